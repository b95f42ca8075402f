/**
 * The one error taxonomy shared by every provider (docs/architecture.md, "The flow of one request").
 * - busy: the group is in a state that will pass (an activity in progress); wait, then retry.
 * - throttled: the cloud asked us to slow down; retry with jittered backoff.
 * - transient: the call may or may not have reached the cloud (5xx, timeout, reset); retry with the SAME token.
 * - fatal: retrying cannot help; the request ends in a Failed event carrying the cloud's code and message.
 *
 * One flag refines a kind: `refreshCredentials` marks a call the cloud refused for its temporary credentials (an
 * expired or mismatched security token). The gateway refused it before the service saw it, so the call did not act:
 * the client refreshes the credentials once and repeats it. It is a flag on `throttled` rather than a fifth kind
 * because the kind is stored on ledger records and carried by the completion event's contract (four kinds), and
 * because what the domain does with a refusal that outlives the one refresh is what it does for throttling: the call
 * did not act, wait with backoff, and count the attempt (so a token that keeps being refused ends the request
 * RetriesExhausted instead of waiting forever).
 */
export type ErrorKind = 'busy' | 'throttled' | 'transient' | 'fatal';

export class DetachError extends Error {
  readonly code: string;
  readonly kind: ErrorKind;
  readonly httpStatus: number | undefined;
  readonly cloudRequestId: string | undefined;
  /** The cloud refused the call's temporary credentials, and did not act: refresh them once and repeat. */
  readonly refreshCredentials: boolean;

  constructor(
    code: string,
    message: string,
    kind: ErrorKind,
    details: {
      httpStatus?: number;
      cloudRequestId?: string;
      cause?: unknown;
      refreshCredentials?: boolean;
    } = {},
  ) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.name = 'DetachError';
    this.code = code;
    this.kind = kind;
    this.httpStatus = details.httpStatus;
    this.cloudRequestId = details.cloudRequestId;
    this.refreshCredentials = details.refreshCredentials ?? false;
  }

  get retryable(): boolean {
    return this.kind !== 'fatal';
  }

  /** What may leave the process: code, kind and the cloud's own message; never request parameters or keys. */
  toJSON(): { code: string; kind: ErrorKind; message: string; httpStatus?: number; cloudRequestId?: string } {
    return {
      code: this.code,
      kind: this.kind,
      message: this.message,
      ...(this.httpStatus === undefined ? {} : { httpStatus: this.httpStatus }),
      ...(this.cloudRequestId === undefined ? {} : { cloudRequestId: this.cloudRequestId }),
    };
  }
}

export const isDetachError = (error: unknown): error is DetachError => error instanceof DetachError;

/** Whether the cloud refused the temporary credentials a call carried (see `refreshCredentials`). */
export const isCredentialsRefused = (error: unknown): error is DetachError =>
  error instanceof DetachError && error.refreshCredentials;

/**
 * A read a recovery makes before it repeats an unanswered call (is the activity there, are the instances gone?).
 * Its refusal, even for good, says nothing of the call, so it must never pass for the call's own refusal: it
 * leaves as an unanswered (transient) error, and the call stays unresolved until a read succeeds or it times out.
 */
export async function recoveryRead<T>(read: () => Promise<T>): Promise<T> {
  try {
    return await read();
  } catch (error) {
    if (!isDetachError(error) || error.kind !== 'fatal') throw error;
    throw new DetachError(
      error.code,
      `A read before repeating the call failed: ${error.message}`,
      'transient',
      {
        cause: error,
        ...(error.httpStatus !== undefined && { httpStatus: error.httpStatus }),
        ...(error.cloudRequestId !== undefined && { cloudRequestId: error.cloudRequestId }),
      },
    );
  }
}
