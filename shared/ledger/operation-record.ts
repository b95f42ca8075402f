import * as z from 'zod';
import {
  Action,
  CallbackState,
  CompletionError,
  CompletionEvent,
  LedgerStatus,
  REQUEST_SCHEMAS,
} from '../contracts/index.ts';
import type { OperationRecord as OperationRecordType } from '../detach/ports.ts';

/** What a ledger item must look like when read back; the ledger is a boundary like any other. */
export const OperationRecord = z
  .object({
    requestId: z.string(),
    action: Action,
    status: LedgerStatus,
    provider: z.string().optional(),
    region: z.string().optional(),
    scalingGroupId: z.string().optional(),
    instanceIds: z.array(z.string()).optional(),
    serverGroupIds: z.array(z.string()).optional(),
    request: z.unknown().optional(),
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
    callback: CallbackState.optional(),
    plan: CompletionEvent.shape.plan,
    cloudProgress: z.object({ statusCode: z.string(), progress: z.number().optional() }).optional(),
    lastDeliveredStatus: z.string().optional(),
    // The record's GroupKey (groupKeyOf): stored data, so the attribute and its `waiting` index keep this name.
    waitKey: z.string().optional(),
    intentId: z.string().optional(),
    pollRetryAt: z.number().optional(),
    alone: z.boolean().optional(),
  })
  .transform((record, context): OperationRecordType => {
    if (record.request === undefined) return record as OperationRecordType;
    // The request is read back with its own action's contract, not a union that could pick the wrong one.
    const request = REQUEST_SCHEMAS[record.action].safeParse(record.request);
    if (!request.success) {
      context.addIssue({ code: 'custom', path: ['request'], message: request.error.message });
      return z.NEVER;
    }
    return { ...record, request: request.data } as OperationRecordType;
  });
