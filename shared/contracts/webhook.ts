import * as z from 'zod';
import { Action, RequestSummary } from './detach-request.ts';
import { lazySchema } from './lazy-schema.ts';
import { VisibleRecord } from './ledger-record.ts';

/** 202 from POST /v1/{action}. */
export const AcceptedResponse = lazySchema(() =>
  z.object({
    requestId: z.string(),
    status: z.string(),
    statusUrl: z.string(),
  }),
);

/** What may be said of the request that holds an id: its action and group, never its body. */
export const HeldBy = lazySchema(() =>
  z.object({
    action: Action,
    ...RequestSummary.pick({ provider: true, region: true, scalingGroupId: true }).shape,
  }),
);
export type HeldBy = z.infer<typeof HeldBy>;

/** Every refusal of the webhook. */
export const ErrorResponse = lazySchema(() =>
  z.object({
    error: z.object({
      code: z.string(),
      message: z.string(),
      requestId: z.string().optional(),
      issues: z.array(z.object({ path: z.string(), message: z.string() })).optional(),
      /** 409 RequestIdConflict: the action and group of the request that holds the id (never its body). */
      heldBy: HeldBy.optional(),
    }),
  }),
);

/**
 * 200 from GET /v1/operations/{requestId}: the ledger record, field by field (anything else is dropped), and
 * never a token: neither the request's clientToken nor the token of a cloud call.
 */
export const OperationStatus = lazySchema(() =>
  z.object({
    ...VisibleRecord.shape,
    statusUrl: z.string(),
    /** The request as it was accepted, without its clientToken. */
    request: z.record(z.string(), z.unknown()).optional(),
  }),
);
