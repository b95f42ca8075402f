import * as z from 'zod';
import { CompletionError, CompletionEvent } from './completion-event.ts';
import { Action } from './detach-request.ts';
import { lazySchema } from './lazy-schema.ts';

/** 202 from POST /v1/{action}. */
export const AcceptedResponse = lazySchema(() =>
  z.object({
    requestId: z.string(),
    status: z.string(),
    statusUrl: z.string(),
  }),
);

/** Every refusal of the webhook. */
export const ErrorResponse = lazySchema(() =>
  z.object({
    error: z.object({
      code: z.string(),
      message: z.string(),
      requestId: z.string().optional(),
      issues: z.array(z.object({ path: z.string(), message: z.string() })).optional(),
      /** 409 RequestIdConflict: the action and group of the request that holds the id (never its body). */
      heldBy: z
        .object({
          action: Action,
          provider: z.string().optional(),
          region: z.string().optional(),
          scalingGroupId: z.string().optional(),
        })
        .optional(),
    }),
  }),
);

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

/**
 * 200 from GET /v1/operations/{requestId}: the ledger record, field by field (anything else is dropped), and
 * never a token: neither the request's clientToken nor the token of a cloud call.
 */
export const OperationStatus = lazySchema(() =>
  z.object({
    requestId: z.string(),
    action: Action,
    status: LedgerStatus,
    statusUrl: z.string(),
    provider: z.string().optional(),
    region: z.string().optional(),
    scalingGroupId: z.string().optional(),
    /** The member account the request acts in (issue #21); absent: the deployment's own keys. */
    account: z.string().optional(),
    instanceIds: z.array(z.string()).optional(),
    serverGroupIds: z.array(z.string()).optional(),
    activityId: z.string().optional(),
    /** The cloud's last word on a running activity: its status and percent done, where it gives one. */
    cloudProgress: z.object({ statusCode: z.string(), progress: z.number().optional() }).optional(),
    attempts: z.number().int(),
    lastError: CompletionError.optional(),
    event: CompletionEvent.optional(),
    eventPublishedAt: z.string().optional(),
    deliveredEvents: z.number().int().optional(),
    callback: CallbackState.optional(),
    /** The request as it was accepted, without its clientToken. */
    request: z.record(z.string(), z.unknown()).optional(),
    plan: CompletionEvent.shape.plan,
    lastDeliveredStatus: z.string().optional(),
    createdAt: z.string(),
    updatedAt: z.string(),
    submittedAt: z.string().optional(),
    completedAt: z.string().optional(),
  }),
);
