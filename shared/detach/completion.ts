import { randomUUID } from 'node:crypto';
import { type CompletionEvent, type TerminalStatus, targetsOf } from '../contracts/index.ts';
import { type CallbackDeps, deliverCallback } from './callbacks.ts';
import type { DecidedFrom, EventPublisher, Ledger, LedgerStatus, StoredRecord } from './ports.ts';

export const LEDGER_STATUS_OF: Record<TerminalStatus, LedgerStatus> = {
  Succeeded: 'SUCCEEDED',
  Partial: 'PARTIAL',
  Failed: 'FAILED',
  TimedOut: 'TIMED_OUT',
  Rejected: 'REJECTED',
  DryRun: 'DRY_RUN',
  DeadLettered: 'DEAD_LETTERED',
};

const TERMINAL_LEDGER_STATUSES: ReadonlySet<LedgerStatus> = new Set(Object.values(LEDGER_STATUS_OF));

export const isTerminal = (status: LedgerStatus): boolean => TERMINAL_LEDGER_STATUSES.has(status);

/** Open statuses anyone may end (a timeout, a rejection); SUBMITTING belongs to its intent's dispatcher. */
export const ENDABLE_STATUSES: readonly LedgerStatus[] = ['QUEUED', 'SUBMITTED', 'IN_PROGRESS'];

export interface CompletionDeps {
  ledger: Ledger;
  publisher: EventPublisher;
  /** Absent where no callbacks are sent (unit tests of other parts). */
  callbacks?: CallbackDeps;
}

/**
 * Ends an operation: the ledger transition is written first (conditionally, so only one writer wins), then the
 * event is published, then marked published. A crash between the two leaves the record terminal and
 * unpublished, and the poller publishes it: the event is never lost. A crash after the publish and before the
 * mark publishes it again, with the same `eventId`: delivery is at least once, deduplicated by that id. `from`:
 * the state the outcome was decided from; the transition is written only while the record is still in it.
 */
export async function completeOperation(
  deps: CompletionDeps,
  event: CompletionEvent,
  callbackUrl?: string,
  from?: DecidedFrom,
): Promise<boolean> {
  const won = await deps.ledger.complete(event, from);
  if (won) {
    await publishStored(deps, event, callbackUrl);
  }
  return won;
}

/** Publishes a stored event, marks it published, then makes the first callback attempt if the request has one. */
export async function publishStored(
  deps: CompletionDeps,
  event: CompletionEvent,
  callbackUrl?: string,
): Promise<void> {
  await deps.publisher.publish(event);
  const callback = callbackUrl && deps.callbacks ? deps.callbacks : undefined;
  await deps.ledger.markPublished(event.requestId, new Date(event.completedAt), callback !== undefined);
  if (callback && callbackUrl) await deliverCallback(callback, event, callbackUrl, undefined);
}

/** The event of a record that reached a terminal state, but whose event never went out. */
export const unpublishedEvent = (record: StoredRecord): CompletionEvent | undefined =>
  isTerminal(record.status) && record.event !== undefined && record.eventPublishedAt === undefined
    ? record.event
    : undefined;

/**
 * How long the writer that made the terminal transition has to publish its event before the poller takes it
 * for lost: more than a function's timeout, so that the poller never publishes beside a writer still at work.
 */
export const PUBLISH_GRACE_MS = 120_000;

/** An unpublished event the poller may publish: its writer is gone (crashed, or timed out). */
export const abandonedEvent = (record: StoredRecord, now: Date): CompletionEvent | undefined => {
  const event = unpublishedEvent(record);
  return event && now.getTime() - Date.parse(event.completedAt) >= PUBLISH_GRACE_MS ? event : undefined;
};

export function eventFor(
  record: Pick<StoredRecord, 'requestId' | 'action' | 'attempts' | 'createdAt' | 'activityId' | 'plan'> & {
    request?: StoredRecord['request'];
  },
  status: TerminalStatus,
  now: Date,
  extra: Pick<CompletionEvent, 'cloud' | 'error' | 'instances' | 'plan'> = {},
): CompletionEvent {
  const request = record.request;
  return {
    version: '1',
    eventId: randomUUID(),
    requestId: record.requestId,
    action: record.action,
    status,
    ...(request && {
      provider: request.provider,
      region: request.region,
      scalingGroupId: request.scalingGroupId,
      ...(request.account && { account: request.account }),
      ...targetsOf(request),
    }),
    ...(record.activityId && { activityId: record.activityId }),
    ...(record.plan && { plan: record.plan }),
    ...extra,
    attempts: record.attempts,
    requestedAt: record.createdAt,
    completedAt: now.toISOString(),
  };
}
