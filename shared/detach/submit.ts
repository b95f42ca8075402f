import {
  type Action,
  type ActionRequest,
  type CompletionError,
  clientTokenOf,
  REQUEST_SCHEMAS,
  type TerminalStatus,
} from '../contracts/index.ts';
import { type DetachError, isDetachError } from '../errors.ts';
import { eventFor, publishStored, unpublishedEvent } from './completion.ts';
import { type DispatchDeps, type DispatchResult, dispatchGroup, waitKeyOf } from './dispatch.ts';
import type { Clock, OperationRecord, ProviderRegistry } from './ports.ts';
import { completeOrRepublish, issuesOf, rejectRequest } from './rejection.ts';
import { nextClientToken, type RetryPolicy, retryDelaySeconds } from './retry.ts';

export interface SubmitDeps extends DispatchDeps {
  providers: ProviderRegistry;
  clock: Clock;
  /** Deliveries after which a still-retryable failure ends the request as Failed (before SQS's DLQ would take it). */
  maxAttempts: number;
  retry: RetryPolicy;
}

export interface Delivery {
  /** The message body, not yet trusted. */
  body: unknown;
  /** The queue's id for the message: names a rejected message that carried no usable request id. */
  messageId: string;
  /** 1 on the first delivery. */
  receiveCount: number;
}

export type SubmitOutcome =
  | { kind: 'rejected'; requestId: string; issues: NonNullable<CompletionError['issues']> }
  | { kind: 'submitted'; requestId: string; activityId?: string }
  | { kind: 'failed'; requestId: string; error: CompletionError }
  | { kind: 'duplicate'; requestId: string; status: string }
  /** Waiting in its group, or already sent with its neighbours: the group's dispatcher takes it from here. */
  | { kind: 'queued'; requestId: string; dispatch: DispatchResult['kind'] }
  /** Ended by the preflight without a cloud call: already done, or a dry run. */
  | { kind: 'completed'; requestId: string; status: TerminalStatus };

/** Thrown for a retryable failure: the edge turns it into a batch item failure delivered again after `delaySeconds`. */
export class RetryLater extends Error {
  constructor(
    readonly requestId: string,
    readonly error: DetachError,
    readonly delaySeconds: number,
  ) {
    super(`${error.kind}: ${error.code}`, { cause: error });
    this.name = 'RetryLater';
  }
}

/** Takes one delivered request of `action` to the cloud once, or to its terminal event. */
export async function submitRequest(
  deps: SubmitDeps,
  action: Action,
  delivery: Delivery,
): Promise<SubmitOutcome> {
  const parsed = REQUEST_SCHEMAS[action].safeParse(delivery.body);
  if (!parsed.success) {
    const issues =
      typeof delivery.body === 'string'
        ? [{ path: '(root)', message: 'The message body is not valid JSON.' }]
        : issuesOf(parsed.error);
    return rejectRequest(deps, {
      action,
      body: delivery.body,
      fallbackId: `sqs:${delivery.messageId}`,
      attempts: delivery.receiveCount,
      issues,
    });
  }

  const request = parsed.data;
  const operation = { action, request } as ActionRequest;
  const waitKey = waitKeyOf(request);
  const record = await deps.ledger.begin(
    {
      ...operation,
      requestId: request.requestId,
      clientToken: clientTokenOf(request),
      ...(waitKey && { waitKey }),
    },
    deps.clock.now(),
  );
  if (record.status !== 'QUEUED') {
    const pending = unpublishedEvent(record);
    if (pending) await publishStored(deps, pending, record.request?.callbackUrl);
    return { kind: 'duplicate', requestId: record.requestId, status: record.status };
  }

  if (waitKey) {
    // The request is safe on the ledger: the message is done. The group's dispatcher (now, or the poller's next
    // pass) sends it when the group is free, merged with its neighbours; retries never go back through SQS.
    const dispatched = await dispatchGroup(deps, waitKey, [record]);
    return { kind: 'queued', requestId: request.requestId, dispatch: dispatched.kind };
  }

  const clientToken = record.clientToken ?? request.requestId;
  const ambiguous = record.lastError?.kind === 'transient';
  try {
    const dryRun = await dryRunWithoutPlan(deps, operation, record);
    if (dryRun) return dryRun;
    const result = await deps.providers[request.provider].submit(operation, {
      clientToken,
      ...(ambiguous && { ambiguousSince: new Date(record.createdAt) }),
    });
    await deps.ledger.markSubmitted(request.requestId, result, deps.clock.now());
    return {
      kind: 'submitted',
      requestId: request.requestId,
      ...(result.activityId && { activityId: result.activityId }),
    };
  } catch (error) {
    if (!isDetachError(error)) throw error;
    if (error.retryable && delivery.receiveCount < deps.maxAttempts) {
      const token = nextClientToken(clientToken, request.requestId, error.kind);
      await deps.ledger.recordAttemptFailure(request.requestId, error, token, deps.clock.now());
      throw new RetryLater(
        request.requestId,
        error,
        retryDelaySeconds(error.kind, delivery.receiveCount, deps.retry),
      );
    }
    const failure: CompletionError = error.retryable
      ? {
          code: 'RetriesExhausted',
          kind: error.kind,
          message: `Gave up after ${delivery.receiveCount} deliveries; last error ${error.code}: ${error.message}`,
        }
      : { code: error.code, kind: error.kind, message: error.message };
    const event = eventFor({ ...record, attempts: record.attempts + 1 }, 'Failed', deps.clock.now(), {
      error: failure,
    });
    await completeOrRepublish(deps, event, request.callbackUrl);
    return { kind: 'failed', requestId: request.requestId, error: failure };
  }
}

/**
 * Requests that do not wait in a group (server groups; Tencent's legacy v2) have no preflight: v2 has no read
 * calls we use, so its dry run can only say that.
 */
async function dryRunWithoutPlan(
  deps: SubmitDeps,
  operation: ActionRequest,
  record: OperationRecord,
): Promise<SubmitOutcome | undefined> {
  const request = operation.request as { dryRun?: boolean; requestId: string; callbackUrl?: string };
  if (!request.dryRun) return undefined;
  const event = eventFor(record, 'DryRun', deps.clock.now(), {
    cloud: { statusCode: 'NoPreflight', statusMessage: 'This API has no read calls for a plan.' },
  });
  await completeOrRepublish(deps, event, request.callbackUrl);
  return { kind: 'completed', requestId: request.requestId, status: 'DryRun' };
}
