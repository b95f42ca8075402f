import type { CompletionError, CompletionEvent } from '../contracts/index.ts';
import type { ErrorKind } from '../errors.ts';
import type { NonEmpty } from './collections.ts';
import { eventFor } from './completion.ts';
import type { Intent, IntentOutcome, StoredRecord } from './ports.ts';

/** What is known when a call of an intent failed: the pure input of `judgeFailedCall`. */
export interface FailedCall {
  intent: Pick<Intent, 'calls'>;
  /** The intent's records, as read before the call. */
  records: NonEmpty<StoredRecord>;
  error: { code: string; kind: ErrorKind; message: string };
  /** Whether repeating the call with the same token is safe at any time (the cloud answers with the first result). */
  idempotentByToken: boolean;
  /**
   * What a read of the group said after the failure, when the call may have acted (`mayHaveActed`): `all` of
   * what it takes out is gone, `some` of it, or `none`; undefined when not read or the read failed.
   */
  gone: GoneFromGroup | undefined;
  maxCallAttempts: number;
  settleMs: number;
  now: Date;
  /** Epoch ms before which nothing is sent again, after an answer of this kind at this attempt. */
  backoffUntil: (kind: ErrorKind, attempt: number) => number;
}

/** How much of what a call takes out a read of the group found gone. */
export type GoneFromGroup = 'all' | 'some' | 'none';

export interface Judgement {
  outcome: IntentOutcome;
  /** Requests the outcome ends (their events are written with it). */
  ended: CompletionEvent[];
}

/**
 * Whether the cloud may have acted on the intent although this call failed: an earlier call of it went
 * unanswered (or its dispatcher died), or this one did. Only then is a refusal not evidence that nothing acted.
 */
export const mayHaveActed = (intent: Pick<Intent, 'calls'>, kind: ErrorKind): boolean =>
  intent.calls > 0 || kind === 'transient';

/**
 * What a failed call means for its intent and each of its requests. The one rule: a request ends Failed only
 * on evidence that no call of it acted (an answer that refused it while nothing before was unanswered, or a
 * refusal of a repeat while the group still holds all it takes out). Without evidence the intent stays and is
 * repeated exactly; the operation timeout bounds that, ending TimedOut (which claims nothing), not Failed.
 */
export function judgeFailedCall(call: FailedCall): Judgement {
  const requestIds = call.records.map((record) => record.requestId);
  // Any of it gone: a call of it acted (reconciliation then confirms the whole, or the timeout ends it).
  if (call.gone === 'all' || call.gone === 'some')
    return { outcome: { kind: 'accepted', requestIds }, ended: [] };
  const lastError: CompletionError = { ...call.error };
  const uncertain = mayHaveActed(call.intent, call.error.kind);
  if (uncertain && !(call.error.kind === 'fatal' && call.gone === 'none')) return keepIntent(call, lastError);
  if (call.error.kind === 'fatal') return refuseFatal(call, lastError);
  return refuseForNow(call, lastError);
}

/** No evidence either way: the intent stays, to be repeated exactly after the backoff (busy never counts). */
function keepIntent(call: FailedCall, lastError: CompletionError): Judgement {
  const counts = call.error.kind !== 'busy';
  const settle = call.idempotentByToken ? 0 : call.settleMs;
  const retryAfter = Math.max(
    call.backoffUntil(call.error.kind, counts ? nextAttempt(call.records) : 1),
    call.now.getTime() + settle,
  );
  return {
    outcome: {
      kind: 'ambiguous',
      requestIds: call.records.map((record) => record.requestId),
      error: lastError,
      retryAfter,
      countsAsAttempt: counts,
    },
    ended: [],
  };
}

/** Refused for good: a merged call's refusal may be about one request only, so each is tried alone first. */
function refuseFatal(call: FailedCall, lastError: CompletionError): Judgement {
  const cloudDidNotAct = call.intent.calls === 0;
  if (call.records.length > 1)
    return {
      outcome: {
        kind: 'refused',
        requeue: call.records.map((r) => ({ requestId: r.requestId, lastError, countsAsAttempt: false })),
        cloudDidNotAct,
      },
      ended: [],
    };
  const [record] = call.records;
  return {
    outcome: { kind: 'refused', requeue: [], cloudDidNotAct },
    ended: [eventFor({ ...record, attempts: record.attempts + 1 }, 'Failed', call.now, { error: lastError })],
  };
}

/** Busy or throttled before acting: back to waiting; throttling counts as an attempt, and the last one ends. */
function refuseForNow(call: FailedCall, lastError: CompletionError): Judgement {
  const counts = call.error.kind === 'throttled';
  const exhausted = (record: StoredRecord) => counts && record.attempts + 1 >= call.maxCallAttempts;
  const ended = call.records.filter(exhausted).map((record) =>
    eventFor({ ...record, attempts: record.attempts + 1 }, 'Failed', call.now, {
      error: {
        code: 'RetriesExhausted',
        kind: call.error.kind,
        message: `Gave up after ${record.attempts + 1} attempts; last error ${call.error.code}: ${call.error.message}`,
      },
    }),
  );
  const requeue = call.records
    .filter((record) => !exhausted(record))
    .map((record) => ({ requestId: record.requestId, lastError, countsAsAttempt: counts }));
  return {
    outcome: {
      kind: 'refused',
      requeue,
      retryAfter: call.backoffUntil(call.error.kind, counts ? nextAttempt(call.records) : 1),
      cloudDidNotAct: call.intent.calls === 0,
    },
    ended,
  };
}

const nextAttempt = (records: readonly StoredRecord[]) =>
  Math.max(...records.map((record) => record.attempts)) + 1;
