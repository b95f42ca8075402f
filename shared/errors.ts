/**
 * The one error taxonomy shared by every provider (docs/architecture.md, "The flow of one request").
 * - busy: the group is in a state that will pass (an activity in progress); wait, then retry.
 * - throttled: the cloud asked us to slow down; retry with jittered backoff.
 * - transient: the call may or may not have reached the cloud (5xx, timeout, reset); retry with the SAME token.
 * - fatal: retrying cannot help; the request ends in a Failed event carrying the cloud's code and message.
 */
export type ErrorKind = 'busy' | 'throttled' | 'transient' | 'fatal';

export class DetachError extends Error {
  readonly code: string;
  readonly kind: ErrorKind;
  readonly httpStatus: number | undefined;
  readonly cloudRequestId: string | undefined;

  constructor(
    code: string,
    message: string,
    kind: ErrorKind,
    details: { httpStatus?: number; cloudRequestId?: string; cause?: unknown } = {},
  ) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.name = 'DetachError';
    this.code = code;
    this.kind = kind;
    this.httpStatus = details.httpStatus;
    this.cloudRequestId = details.cloudRequestId;
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
