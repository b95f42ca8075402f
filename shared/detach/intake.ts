import { type Action, type DetachRequest, type LedgerStatus, requestSchemaOf } from '../contracts/index.ts';
import type { CompletionDeps } from './completion.ts';
import type { AccountCheck, Clock } from './ports.ts';
import { type Issues, issuesOf, rejectRequest } from './rejection.ts';
import { type HeldBy, newOperation, refusalOfNew, requestIdConflict } from './submit.ts';

/** Port: the action's FIFO queue, as producers use it (group per scaling group, deduplicated by request id). */
export interface RequestQueue {
  enqueue(action: Action, request: DetachRequest): Promise<void>;
}

export interface IntakeDeps extends CompletionDeps {
  queue: RequestQueue;
  clock: Clock;
  /** The account registry a request naming an account is checked against (issue #21). */
  accounts?: AccountCheck;
}

export type IntakeResult =
  | {
      kind: 'accepted';
      requestId: string;
      status: LedgerStatus;
      repeated: boolean;
      /** False when the queue could not be written: the poller sends the request from the ledger anyway. */
      enqueued: boolean;
    }
  | { kind: 'invalid'; requestId: string; issues: Issues }
  /** It names an account it may not use (unknown, another cloud's, a region not allowed): ended Rejected. */
  | { kind: 'refused'; requestId: string; code: string; message: string; issues: Issues }
  /** The id belongs to another request (another body or action): nothing is written or enqueued. */
  | { kind: 'conflict'; requestId: string; heldBy: HeldBy };

/**
 * A request that arrives over HTTP: validated, written to the ledger exactly as the queue function writes it
 * (in its group, visible to the poller), then enqueued so that its function dispatches it at once. The ledger
 * is written first: from then on the request is the poller's to finish whatever happens to the message. A
 * request id the ledger already knows is answered with its current status and not enqueued again, or, when it
 * holds another request, refused as a conflict.
 */
export async function acceptRequest(
  deps: IntakeDeps,
  action: Action,
  body: unknown,
  sourceId: string,
): Promise<IntakeResult> {
  const parsed = requestSchemaOf(action).safeParse(body);
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
  const refused = await refusalOfNew(deps, action, request);
  if (refused) {
    const issues = [{ path: 'account', message: refused.message }];
    const rejected = await rejectRequest(deps, {
      action,
      body,
      fallbackId: sourceId,
      attempts: 1,
      ...refused,
      issues,
    });
    return { kind: 'refused', requestId: rejected.requestId, ...refused, issues };
  }
  const { record, created } = await deps.ledger.begin(newOperation(action, request), deps.clock.now());
  const heldBy = created ? undefined : requestIdConflict(action, request, record);
  if (heldBy) return { kind: 'conflict', requestId: request.requestId, heldBy };
  if (!created)
    return {
      kind: 'accepted',
      requestId: request.requestId,
      status: record.status,
      repeated: true,
      enqueued: false,
    };
  const enqueued = await deps.queue.enqueue(action, request).then(
    () => true,
    () => false,
  );
  return { kind: 'accepted', requestId: request.requestId, status: 'QUEUED', repeated: false, enqueued };
}
