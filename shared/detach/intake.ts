import { type Action, clientTokenOf, type DetachRequest, REQUEST_SCHEMAS } from '../contracts/index.ts';
import type { CompletionDeps } from './completion.ts';
import type { Clock, LedgerStatus, NewOperation } from './ports.ts';
import { type Issues, issuesOf, rejectRequest } from './rejection.ts';

/** Port: the action's FIFO queue, as producers use it (group per scaling group, deduplicated by request id). */
export interface RequestQueue {
  enqueue(action: Action, request: DetachRequest): Promise<void>;
}

export interface IntakeDeps extends CompletionDeps {
  queue: RequestQueue;
  clock: Clock;
}

export type IntakeResult =
  | { kind: 'accepted'; requestId: string; status: LedgerStatus; repeated: boolean }
  | { kind: 'invalid'; requestId: string; issues: Issues };

/**
 * A request that arrives over HTTP: validated, then enqueued exactly as a queue producer would. A request id
 * the ledger already knows is answered with its current status and not enqueued again (SQS deduplicates only
 * for five minutes). The queue is written before the ledger, so a crash between the two loses nothing.
 */
export async function acceptRequest(
  deps: IntakeDeps,
  action: Action,
  body: unknown,
  sourceId: string,
): Promise<IntakeResult> {
  const parsed = REQUEST_SCHEMAS[action].safeParse(body);
  if (!parsed.success) {
    const rejected = await rejectRequest(deps, {
      action,
      body,
      fallbackId: sourceId,
      attempts: 1,
      issues: issuesOf(parsed.error),
    });
    return { kind: 'invalid', requestId: rejected.requestId, issues: rejected.issues };
  }
  const request = parsed.data;
  const existing = await deps.ledger.get(request.requestId);
  if (existing)
    return { kind: 'accepted', requestId: request.requestId, status: existing.status, repeated: true };
  await deps.queue.enqueue(action, request);
  await deps.ledger.begin(
    { action, request, requestId: request.requestId, clientToken: clientTokenOf(request) } as NewOperation,
    deps.clock.now(),
  );
  // The function may already have taken it further; the answer to a new request is that it is queued.
  return { kind: 'accepted', requestId: request.requestId, status: 'QUEUED', repeated: false };
}
