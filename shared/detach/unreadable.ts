import type { CompletionEvent, TerminalStatus } from '../contracts/index.ts';
import { PUBLISH_GRACE_MS } from './completion.ts';
import type { PendingItem } from './ports.ts';

export type UnreadableItem = Extract<PendingItem, { kind: 'unreadable' }>;

/** Statuses in which no call of the request can be running: only these may end Failed. */
const NEVER_SENT: ReadonlySet<string> = new Set(['QUEUED']);
/** Terminal statuses: the outcome was decided already (an earlier release stored it without an event we read). */
const TERMINAL: ReadonlySet<string> = new Set([
  'SUCCEEDED',
  'PARTIAL',
  'FAILED',
  'TIMED_OUT',
  'REJECTED',
  'DRY_RUN',
  'DEAD_LETTERED',
]);

export type UnreadableOutcome =
  /** Its stored event is its outcome and never went out: publish that one (no new outcome). */
  | { kind: 'publish-stored'; event: CompletionEvent }
  /** Its event went out already, or its outcome is stored without one: only the pending index still holds it. */
  | { kind: 'forget' }
  /** A call of it may still act, or its writer may still be publishing: look again later. */
  | { kind: 'wait' }
  | { kind: 'end'; status: Extract<TerminalStatus, 'Failed' | 'TimedOut'> };

/**
 * What the poller does with an item the current contract cannot read. A stored event is the request's one
 * outcome (an earlier release wrote it), never replaced; so is a terminal status stored without one (it is left
 * as it is). Otherwise Failed claims that nothing acted, so it is given only where no call can have been sent
 * (waiting, or no status at all); anywhere else (a call may be running, or a status we do not know) the request
 * ends TimedOut, which claims nothing, once the operation timeout has passed since it last changed.
 */
export function unreadableOutcome(item: UnreadableItem, now: Date, timeoutMs: number): UnreadableOutcome {
  if (item.storedEvent) {
    if (item.eventPublishedAt) return { kind: 'forget' };
    const age = now.getTime() - Date.parse(item.storedEvent.completedAt);
    return age >= PUBLISH_GRACE_MS ? { kind: 'publish-stored', event: item.storedEvent } : { kind: 'wait' };
  }
  if (item.status !== undefined && TERMINAL.has(item.status)) return { kind: 'forget' };
  if (item.status === undefined || NEVER_SENT.has(item.status)) return { kind: 'end', status: 'Failed' };
  const since = Date.parse(item.updatedAt ?? item.createdAt ?? '');
  if (Number.isNaN(since) || now.getTime() - since >= timeoutMs) return { kind: 'end', status: 'TimedOut' };
  return { kind: 'wait' };
}
