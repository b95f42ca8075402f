import * as z from 'zod';
import { CompletionError, CompletionEvent } from './completion-event.ts';
import { Action, type RequestOf, RequestSummary } from './detach-request.ts';

export const LEDGER_STATUSES = [
  'QUEUED',
  /** Written into its group's intent: the cloud call is about to be made, or was made and its answer not yet recorded. */
  'SUBMITTING',
  'SUBMITTED',
  'IN_PROGRESS',
  'SUCCEEDED',
  'PARTIAL',
  'FAILED',
  'REJECTED',
  'TIMED_OUT',
  'DRY_RUN',
  'DEAD_LETTERED',
] as const;
export const LedgerStatus = z.enum(LEDGER_STATUSES);
export type LedgerStatus = z.infer<typeof LedgerStatus>;

/**
 * Why the last callback attempt failed: a code, never the receiver's answer or the network's error text (which
 * would make the status API a port scanner of whatever a callbackUrl names).
 */
export const CALLBACK_FAILURE_CODES = [
  'CallbackRefused',
  'CallbackTimedOut',
  'CallbackHttpStatus',
  'CallbackUnreachable',
  'CallbackFailed',
] as const;
export const CallbackFailureCode = z.enum(CALLBACK_FAILURE_CODES);
export type CallbackFailureCode = z.infer<typeof CallbackFailureCode>;

/** The code of a sender's failure; anything that is not one of ours is `CallbackFailed`, without its text. */
export const callbackFailureCodeOf = (error: unknown): CallbackFailureCode => {
  const parsed = CallbackFailureCode.safeParse((error as { code?: unknown } | null)?.code);
  return parsed.success ? parsed.data : 'CallbackFailed';
};

/** Delivery of a request's completion event to its callbackUrl. */
export const CallbackState = z.object({
  url: z.string(),
  attempts: z.number().int(),
  deliveredAt: z.string().optional(),
  nextAttemptAt: z.string().optional(),
  lastError: CallbackFailureCode.optional(),
  gaveUpAt: z.string().optional(),
});
export type CallbackState = z.infer<typeof CallbackState>;

/** The cloud's last word on a running activity: its status word, and its percent done where it gives one. */
export const CloudProgress = z.object({ statusCode: z.string(), progress: z.number().optional() });
export type CloudProgress = z.infer<typeof CloudProgress>;

/**
 * What a caller may see of a ledger record (the status API answers with these, and its own two): never a token,
 * neither the request's clientToken nor the token of a cloud call.
 */
export const VisibleRecord = z.object({
  requestId: z.string(),
  action: Action,
  status: LedgerStatus,
  ...RequestSummary.shape,
  activityId: z.string().optional(),
  cloudProgress: CloudProgress.optional(),
  attempts: z.number().int(),
  lastError: CompletionError.optional(),
  event: CompletionEvent.optional(),
  eventPublishedAt: z.string().optional(),
  /** How many distinct completion events came back from the bus (see functions/record-delivery). */
  deliveredEvents: z.number().int().optional(),
  callback: CallbackState.optional(),
  /** The preflight's plan, fixed on the first attempt so that every retry sends the same call. */
  plan: CompletionEvent.shape.plan,
  lastDeliveredStatus: z.string().optional(),
  createdAt: z.string(),
  updatedAt: z.string(),
  submittedAt: z.string().optional(),
  completedAt: z.string().optional(),
});

/**
 * Every field of a ledger record but its request, which is read back with its own action's contract (see
 * shared/ledger/operation-record.ts) and typed with it (OperationRecord).
 */
export const RecordFields = VisibleRecord.extend({
  // Checked where it is read back; the status answer's published schema has never carried the bound.
  attempts: z.number().int().nonnegative(),
  clientToken: z.string().optional(),
  cloudRequestId: z.string().optional(),
  /**
   * The group every request waits in for its turn: its GroupKey (groupKeyOf), stored under this older name, which
   * the table's `waiting` index is keyed on; it is stored data, so the attribute keeps its name.
   */
  waitKey: z.string().optional(),
  /** The intent this request is (SUBMITTING) or was last part of. */
  intentId: z.string().optional(),
  /** A merged call was refused fatally with this request in it: it goes alone from then on. */
  alone: z.boolean().optional(),
  /** Epoch ms before which the poller leaves this item alone (it failed to process it). */
  pollRetryAt: z.number().optional(),
});
export type RecordFields = z.infer<typeof RecordFields>;

/**
 * A record of a request, with the validated request it was accepted with (the poller and the status API need
 * nothing else), typed with its action. Mapped over `A` itself, like ActionRequestOf.
 */
export type OperationRecordOf<A extends Action> = {
  [K in A]: Omit<RecordFields, 'action'> & { action: K; request: RequestOf[K] };
}[A];
export type OperationRecord = OperationRecordOf<Action>;

/** A record of a message that never was a request (rejected, dead-lettered): it has no request. */
export type RejectedRecord = RecordFields & { request?: undefined };

/** Whatever the ledger holds under a request id. */
export type StoredRecord = OperationRecord | RejectedRecord;

export const hasRequest = (record: StoredRecord): record is OperationRecord => record.request !== undefined;
