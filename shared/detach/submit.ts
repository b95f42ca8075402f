import {
  type Action,
  type ActionRequest,
  type CompletionError,
  clientTokenOf,
  type DetachRequest,
  REQUEST_SCHEMAS,
} from '../contracts/index.ts';
import { abandonedEvent, isTerminal, publishStored } from './completion.ts';
import { type DispatchDeps, type DispatchResult, dispatchGroup, waitKeyOf } from './dispatch.ts';
import type { NewOperation } from './ports.ts';
import { issuesOf, rejectRequest } from './rejection.ts';

export interface SubmitDeps extends DispatchDeps {}

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
  /** Terminal already (a duplicate delivery): its event is published if a crash left it unpublished. */
  | { kind: 'duplicate'; requestId: string; status: string }
  /** On the ledger in its group; the group's dispatcher (this one, or the poller's) takes it from here. */
  | { kind: 'queued'; requestId: string; dispatch: DispatchResult['kind'] };

/** The one constructor of new operations, for the queue and the webhook alike. */
export const newOperation = (action: Action, request: DetachRequest): NewOperation =>
  ({ action, request, requestId: request.requestId, clientToken: clientTokenOf(request) }) as ActionRequest &
    NewOperation;

/**
 * Takes one delivered request onto the ledger, in its group, then tries its group's dispatcher at once. The
 * message is done as soon as the request is on the ledger: every retry from there is the ledger's (a group
 * lease, a write-ahead intent, a backoff), none goes back through SQS.
 */
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
  const { record } = await deps.ledger.begin(newOperation(action, request), deps.clock.now());
  if (isTerminal(record.status)) {
    // Published here only if its writer is surely gone; otherwise that writer (or the poller) publishes it.
    const pending = abandonedEvent(record, deps.clock.now());
    if (pending) await publishStored(deps, pending, record.request?.callbackUrl);
    return { kind: 'duplicate', requestId: record.requestId, status: record.status };
  }
  const dispatched = await dispatchGroup(deps, waitKeyOf(request), [record]);
  return { kind: 'queued', requestId: request.requestId, dispatch: dispatched.kind };
}
