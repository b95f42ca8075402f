import { describe, expect, it } from 'vitest';
import type { CallbackState, CompletionEvent } from '../contracts/index.ts';
import { DetachError } from '../errors.ts';
import { type CallbackDeps, deliverCallback } from './callbacks.ts';

const anEvent: CompletionEvent = {
  version: '1',
  eventId: 'e-1',
  requestId: 'req-1',
  action: 'detach-instances',
  status: 'Succeeded',
  attempts: 1,
  requestedAt: '2026-11-23T00:00:00.000Z',
  completedAt: '2026-11-23T00:00:05.000Z',
};

/** deliverCallback with a sender that fails as told; the ledger only records what it is given. */
function setup(failure: Error) {
  const recorded: { state: CallbackState; keepPending: boolean }[] = [];
  const deps = {
    ledger: {
      recordCallback: async (_id: string, state: CallbackState, keepPending: boolean) =>
        void recorded.push({ state, keepPending }),
    },
    clock: { now: () => new Date('2026-11-23T00:01:00.000Z') },
    callbacks: {
      send: async () => {
        throw failure;
      },
    },
    callbackRetry: { baseSeconds: 30, maxSeconds: 3600, maxAttempts: 6 },
  } as unknown as CallbackDeps;
  return { deps, recorded };
}

describe('deliverCallback', () => {
  it('schedules another attempt after a failure that may pass, and records a code, not the text', async () => {
    const { deps, recorded } = setup(
      new DetachError('CallbackTimedOut', 'connect ETIMEDOUT 10.0.0.5:443', 'transient'),
    );

    const state = await deliverCallback(deps, anEvent, 'https://receiver.example/hook', undefined);

    expect(state).toMatchObject({ attempts: 1, lastError: 'CallbackTimedOut' });
    expect(state.nextAttemptAt).toBeDefined();
    expect(JSON.stringify(recorded)).not.toContain('10.0.0.5');
  });

  it('gives up at once on a target the sender refuses (it will not become acceptable)', async () => {
    const { deps, recorded } = setup(new DetachError('CallbackRefused', 'private address', 'fatal'));

    const state = await deliverCallback(deps, anEvent, 'https://internal.example/hook', undefined);

    expect(state).toMatchObject({ attempts: 1, lastError: 'CallbackRefused' });
    expect(state.gaveUpAt).toBeDefined();
    expect(recorded[0]?.keepPending).toBe(false);
  });
});
