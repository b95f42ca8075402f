import * as z from 'zod';
import { Action, RequestId, RequestSummary } from './detach-request.ts';

export const TERMINAL_STATUSES = [
  'Succeeded',
  'Partial',
  'Failed',
  'TimedOut',
  'Rejected',
  'DryRun',
  /** The message reached its dead-letter queue before its request was recorded (functions/dead-letter). */
  'DeadLettered',
] as const;
export const TerminalStatus = z.enum(TERMINAL_STATUSES);
export type TerminalStatus = z.infer<typeof TerminalStatus>;

export const EVENT_SOURCE = 'scaling-detach';
export const EVENT_DETAIL_TYPE = 'Detach Operation Completed';

export const CompletionError = z.object({
  code: z.string(),
  message: z.string(),
  kind: z.enum(['busy', 'throttled', 'transient', 'fatal', 'invalid']).optional(),
  issues: z.array(z.object({ path: z.string(), message: z.string() })).optional(),
});
export type CompletionError = z.infer<typeof CompletionError>;

/** The `detail` of the one completion event every request ends with. */
export const CompletionEvent = z.object({
  version: z.literal('1'),
  /**
   * The same on every delivery of this event (a republish after a crash keeps it): delivery is at least once,
   * and consumers deduplicate on this id.
   */
  eventId: z.string(),
  /** For a Rejected message that had no usable request id, this is `sqs:<messageId>`. */
  requestId: z.union([RequestId, z.string().startsWith('sqs:')]),
  action: Action,
  status: TerminalStatus,
  ...RequestSummary.shape,
  /** For Partial (and Failed) instance actions: which instances left the group and which are still in it. */
  instances: z
    .object({
      detached: z.array(z.string()),
      notDetached: z.array(z.string()),
      /** Named instances that were not in the group and that this service never took out (a typo, another tool). */
      notInGroup: z.array(z.string()).optional(),
    })
    .optional(),
  activityId: z.string().optional(),
  /** The preflight's reading of the group: what is (or, for DryRun, would be) sent, and what is not. */
  plan: z
    .object({
      send: z.array(z.string()),
      /** Out of the group already, taken out by this service (the ledger remembers what it took out). */
      alreadyDetached: z.array(z.string()),
      /** Not in the group, and never taken out by this service. */
      notInGroup: z.array(z.string()).optional(),
      refused: z.array(z.object({ instanceId: z.string(), state: z.string() })),
      groupState: z.string(),
      minSize: z.number(),
      capacity: z.number(),
    })
    .optional(),
  cloud: z
    .object({
      statusCode: z.string(),
      statusMessage: z.string().optional(),
      progress: z.number().optional(),
      errorCode: z.string().optional(),
      errorMessage: z.string().optional(),
    })
    .optional(),
  error: CompletionError.optional(),
  attempts: z.number().int().nonnegative(),
  requestedAt: z.iso.datetime(),
  completedAt: z.iso.datetime(),
});
export type CompletionEvent = z.infer<typeof CompletionEvent>;
