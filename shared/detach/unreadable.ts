import type { CompletionEvent, TerminalStatus } from '../contracts/index.ts';
import { PUBLISH_GRACE_MS } from './completion.ts';
import type { PendingItem } from './ports.ts';

export type UnreadableItem = Extract<PendingItem, { kind: 'unreadable' }>;

/** Statuses in which a call of the request may be running in the cloud. */
const MAY_BE_ACTING: ReadonlySet<string> = new Set(['SUBMITTING', 'SUBMITTED', 'IN_PROGRESS']);

export type UnreadableOutcome =
  /** Its stored event is its outcome and never went out: publish that one (no new outcome). */
  | { kind: 'publish-stored'; event: CompletionEvent }
  /** Its event went out already: only the pending index still holds it. */
  | { kind: 'forget' }
  /** A call of it may still act, or its writer may still be publishing: look again later. */
  | { kind: 'wait' }
  | { kind: 'end'; status: Extract<TerminalStatus, 'Failed' | 'TimedOut'> };

/**
 * What the poller does with an item the current contract cannot read. A stored event is the request's one
 * outcome (an earlier release wrote it), never replaced. Without one, Failed claims that nothing acted, so it is
 * given only where no call can be running (waiting, or a status we do not know); where one may be, the request
 * ends TimedOut, which claims nothing, once the operation timeout has passed since it last changed.
 */
export function unreadableOutcome(item: UnreadableItem, now: Date, timeoutMs: number): UnreadableOutcome {
  if (item.storedEvent) {
    if (item.eventPublishedAt) return { kind: 'forget' };
    const age = now.getTime() - Date.parse(item.storedEvent.completedAt);
    return age >= PUBLISH_GRACE_MS ? { kind: 'publish-stored', event: item.storedEvent } : { kind: 'wait' };
  }
  if (item.status === undefined || !MAY_BE_ACTING.has(item.status)) return { kind: 'end', status: 'Failed' };
  const since = Date.parse(item.updatedAt ?? item.createdAt ?? '');
  if (Number.isNaN(since) || now.getTime() - since >= timeoutMs) return { kind: 'end', status: 'TimedOut' };
  return { kind: 'wait' };
}
