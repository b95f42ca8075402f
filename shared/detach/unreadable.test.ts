import { describe, expect, it } from 'vitest';
import type { CompletionEvent } from '../contracts/index.ts';
import { type UnreadableItem, unreadableOutcome } from './unreadable.ts';

const NOW = new Date('2026-12-01T12:00:00Z');
const minutesAgo = (minutes: number) => new Date(NOW.getTime() - minutes * 60_000).toISOString();

const anItem = (overrides: Partial<UnreadableItem> = {}): UnreadableItem => ({
  kind: 'unreadable',
  requestId: 'req-1',
  reason: 'request: invalid',
  createdAt: minutesAgo(1),
  updatedAt: minutesAgo(1),
  ...overrides,
});

const anEvent = (completedAt: string): CompletionEvent => ({
  version: '1',
  eventId: 'evt-1',
  requestId: 'req-1',
  action: 'detach-instances',
  status: 'Succeeded',
  attempts: 1,
  requestedAt: completedAt,
  completedAt,
});

describe('unreadableOutcome', () => {
  it('publishes a stored event that never went out, once its writer is surely gone', () => {
    const event = anEvent(minutesAgo(5));

    expect(unreadableOutcome(anItem({ storedEvent: event }), NOW, 60_000)).toEqual({
      kind: 'publish-stored',
      event,
    });
    expect(unreadableOutcome(anItem({ storedEvent: anEvent(minutesAgo(0)) }), NOW, 60_000)).toEqual({
      kind: 'wait',
    });
  });

  it('only forgets an item whose stored event went out', () => {
    const item = anItem({ storedEvent: anEvent(minutesAgo(5)), eventPublishedAt: minutesAgo(4) });

    expect(unreadableOutcome(item, NOW, 60_000)).toEqual({ kind: 'forget' });
  });

  it('leaves a terminal status stored without an event as it is: its outcome was decided', () => {
    for (const status of ['SUCCEEDED', 'FAILED', 'TIMED_OUT', 'DEAD_LETTERED'])
      expect(unreadableOutcome(anItem({ status }), NOW, 60_000)).toEqual({ kind: 'forget' });
  });

  it('fails an item no call of which can have been sent', () => {
    for (const status of ['QUEUED', undefined])
      expect(unreadableOutcome(anItem(status ? { status } : {}), NOW, 60_000)).toEqual({
        kind: 'end',
        status: 'Failed',
      });
  });

  it('waits for an item a call of which may be running, then ends it TimedOut', () => {
    for (const status of ['SUBMITTING', 'SUBMITTED', 'IN_PROGRESS', 'A_STATUS_WE_DO_NOT_KNOW']) {
      expect(unreadableOutcome(anItem({ status }), NOW, 120_000)).toEqual({ kind: 'wait' });
      expect(unreadableOutcome(anItem({ status }), NOW, 30_000)).toEqual({ kind: 'end', status: 'TimedOut' });
    }
  });
});
