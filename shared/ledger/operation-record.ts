import { z } from 'zod';
import { Action, CompletionError, CompletionEvent, DetachInstancesRequest } from '../contracts/index.ts';
import { LEDGER_STATUSES, type OperationRecord as OperationRecordType } from '../detach/ports.ts';

/** What a ledger item must look like when read back; the ledger is a boundary like any other. */
export const OperationRecord = z.object({
  requestId: z.string(),
  action: Action,
  status: z.enum(LEDGER_STATUSES),
  provider: z.string().optional(),
  region: z.string().optional(),
  scalingGroupId: z.string().optional(),
  instanceIds: z.array(z.string()).optional(),
  request: DetachInstancesRequest.optional(),
  clientToken: z.string().optional(),
  activityId: z.string().optional(),
  attempts: z.number().int().nonnegative(),
  lastError: CompletionError.optional(),
  createdAt: z.string(),
  updatedAt: z.string(),
  submittedAt: z.string().optional(),
  completedAt: z.string().optional(),
  event: CompletionEvent.optional(),
  eventPublishedAt: z.string().optional(),
  cloudRequestId: z.string().optional(),
  deliveredEvents: z.number().int().optional(),
  lastDeliveredStatus: z.string().optional(),
}) satisfies z.ZodType<OperationRecordType>;
