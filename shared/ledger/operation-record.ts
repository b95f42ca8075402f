import * as z from 'zod';
import {
  type Action,
  type OperationRecordOf,
  RecordFields,
  type RequestOf,
  requestSchemaOf,
  type StoredRecord,
  targetsOf,
} from '../contracts/index.ts';
import { groupKeyOf } from '../detach/dispatch.ts';

/**
 * What a ledger item must look like when read back; the ledger is a boundary like any other. The request is read
 * back with its own action's contract, not a union that could pick the wrong one.
 */
export const OperationRecord = RecordFields.extend({ request: z.unknown().optional() }).transform(
  ({ request, ...fields }, context): StoredRecord => {
    if (request === undefined) return fields;
    const read = withRequest(fields, request);
    if (read.success) return read.record;
    context.addIssue({ code: 'custom', path: ['request'], message: read.message });
    return z.NEVER;
  },
);

function withRequest<A extends Action>(
  fields: RecordFields & { action: A },
  stored: unknown,
): { success: true; record: OperationRecordOf<A> } | { success: false; message: string } {
  const request = requestSchemaOf(fields.action).safeParse(stored);
  if (!request.success) return { success: false, message: request.error.message };
  return { success: true, record: { ...fields, action: fields.action, request: request.data } };
}

/** The record a new request starts with: QUEUED in its group. */
export function newRecord<A extends Action>(
  operation: { action: A; request: RequestOf[A]; requestId: string; clientToken: string },
  now: Date,
): OperationRecordOf<A> {
  const { request } = operation;
  return {
    requestId: operation.requestId,
    action: operation.action,
    status: 'QUEUED',
    provider: request.provider,
    region: request.region,
    scalingGroupId: request.scalingGroupId,
    ...targetsOf(request),
    request,
    clientToken: operation.clientToken,
    attempts: 0,
    createdAt: now.toISOString(),
    updatedAt: now.toISOString(),
    waitKey: groupKeyOf(request),
  };
}
