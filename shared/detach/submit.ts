import {
  type Action,
  type CompletionError,
  clientTokenOf,
  type DetachRequest,
  type HeldBy,
  type RequestOf,
  requestSchemaOf,
} from '../contracts/index.ts';
import { accountRefusal } from './account-check.ts';
import { abandonedEvent, isTerminal, publishStored } from './completion.ts';
import { type DispatchDeps, type DispatchResult, dispatchGroup, groupKeyOf } from './dispatch.ts';
import type { AccountCheck, AccountRefusal, Ledger, NewOperationOf, StoredRecord } from './ports.ts';
import { issuesOf, rejectRequest } from './rejection.ts';

export interface SubmitDeps extends DispatchDeps {
  /** The account registry a request naming an account is checked against (issue #21). */
  accounts?: AccountCheck;
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
  /** Terminal already (a duplicate delivery): its event is published if a crash left it unpublished. */
  | { kind: 'duplicate'; requestId: string; status: string }
  /** On the ledger in its group; the group's dispatcher (this one, or the poller's) takes it from here. */
  | { kind: 'queued'; requestId: string; dispatch: DispatchResult['kind'] }
  /**
   * Its request id belongs to another request: that one is left as it is, and this message ends Rejected
   * (`RequestIdConflict`) under `recordedAs` (`sqs:<messageId>`), with its own event.
   */
  | { kind: 'conflict'; requestId: string; recordedAs: string; heldBy: HeldBy };

export type { HeldBy };

/** JSON with every object's keys in order: two parses of one request give the same text. */
const canonical = (value: unknown): string =>
  JSON.stringify(value, (_key, item: unknown) =>
    item && typeof item === 'object' && !Array.isArray(item)
      ? Object.fromEntries(Object.entries(item).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
      : item,
  );

/**
 * Whether the record found under a request's id holds another request (another action, or another body once
 * parsed: defaults applied, key order and spacing aside), and then what it holds. A record without a request (a
 * rejected message) is that id's end whatever its body was, unless it was for another action.
 */
export function requestIdConflict(
  action: Action,
  request: DetachRequest,
  record: StoredRecord,
): HeldBy | undefined {
  const same =
    record.action === action &&
    (record.request === undefined || canonical(record.request) === canonical(request));
  if (same) return undefined;
  const { provider, region, scalingGroupId } = record;
  return {
    action: record.action,
    ...(provider && { provider }),
    ...(region && { region }),
    ...(scalingGroupId && { scalingGroupId }),
  };
}

/**
 * Why a request may not name its account, if it may not, unless the ledger already holds this very request: one
 * accepted before a registry edit is answered as that request (its outcome is the ledger's to give), never refused
 * beside it with a Rejected event of its own.
 */
export async function refusalOfNew(
  deps: { accounts?: AccountCheck | undefined; ledger: Pick<Ledger, 'get'> },
  action: Action,
  request: DetachRequest,
): Promise<AccountRefusal | undefined> {
  const refused = await accountRefusal(deps.accounts, request);
  if (!refused) return undefined;
  const existing = await deps.ledger.get(request.requestId);
  const accepted =
    existing?.request !== undefined && requestIdConflict(action, request, existing) === undefined;
  return accepted ? undefined : refused;
}

export const describeHolder = (requestId: string, heldBy: HeldBy): string =>
  `Request id ${requestId} is already used by a ${heldBy.action} request${heldBy.scalingGroupId ? ` for scaling group ${heldBy.scalingGroupId} (${heldBy.provider}, ${heldBy.region})` : ''}; a request id names one request only: use a new one.`;

/** The one constructor of new operations, for the queue and the webhook alike. */
export const newOperation = <A extends Action>(action: A, request: RequestOf[A]): NewOperationOf<A> => ({
  action,
  request,
  requestId: request.requestId,
  clientToken: clientTokenOf(request),
});

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
  const parsed = requestSchemaOf(action).safeParse(delivery.body);
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
  const refused = await refusalOfNew(deps, action, request);
  if (refused) {
    return rejectRequest(deps, {
      action,
      body: delivery.body,
      fallbackId: `sqs:${delivery.messageId}`,
      attempts: delivery.receiveCount,
      ...refused,
      issues: [{ path: 'account', message: refused.message }],
    });
  }
  const { record } = await deps.ledger.begin(newOperation(action, request), deps.clock.now());
  const heldBy = requestIdConflict(action, request, record);
  if (heldBy) {
    const message = describeHolder(request.requestId, heldBy);
    // Under the message's own id (never the request id): the first request's record and event stay as they are.
    const rejected = await rejectRequest(deps, {
      action,
      body: undefined,
      fallbackId: `sqs:${delivery.messageId}`,
      attempts: delivery.receiveCount,
      code: 'RequestIdConflict',
      message,
      issues: [{ path: 'requestId', message }],
    });
    return { kind: 'conflict', requestId: request.requestId, recordedAs: rejected.requestId, heldBy };
  }
  if (isTerminal(record.status)) {
    // Published here only if its writer is surely gone; otherwise that writer (or the poller) publishes it.
    const pending = abandonedEvent(record, deps.clock.now());
    if (pending) await publishStored(deps, pending, record.request?.callbackUrl);
    return { kind: 'duplicate', requestId: record.requestId, status: record.status };
  }
  const dispatched = await dispatchGroup(deps, groupKeyOf(request), [record]);
  return { kind: 'queued', requestId: request.requestId, dispatch: dispatched.kind };
}
