import { describe, expect, it } from 'vitest';
import { pollRepeatedly } from '../shared/detach/poll.ts';
import type { Ledger } from '../shared/detach/ports.ts';
import { submitRequest } from '../shared/detach/submit.ts';
import { aDomain } from './support/domain.ts';
import { aDetachRequest, aScalingGroup } from './support/emulator-admin.ts';

/** The poll loop inside one invocation, on DynamoDB Local against the emulator, with a clock the test moves. */
describe('the poll loop', () => {
  it('starts a pass every interval: the pause is the interval less the pass, and none past the deadline', async () => {
    const domain = await aDomain();
    const group = await aScalingGroup(domain.admin, { activityDurationMs: 3_600_000 });
    const request = aDetachRequest(group, { preflight: false });
    await submitRequest(domain.deps, 'detach-instances', {
      body: request,
      messageId: request.requestId,
      receiveCount: 1,
    });
    let now = Date.now();
    const started = now;
    const clock = { now: () => new Date(now) };
    // Every pass takes 700 ms of the test's clock (its reading of the index).
    const slowLedger: Ledger = new Proxy(domain.ledger, {
      get: (target, name) => {
        if (name === 'listPending')
          return async function* () {
            now += 700;
            yield* target.listPending();
          };
        const value = Reflect.get(target, name, target);
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });
    const sleeps: number[] = [];

    const passes = await pollRepeatedly(
      { ...domain.deps, clock, ledger: slowLedger },
      {
        intervalMs: 1_000,
        deadline: started + 3_500,
        sleep: async (ms) => {
          sleeps.push(ms);
          now += ms;
        },
      },
    );

    // Passes at 0, 1,000, 2,000 and 3,000 ms; the next would start at 4,000, past the deadline.
    expect(sleeps).toEqual([300, 300, 300]);
    expect(passes.map((pass) => pass.open)).toEqual([1, 1, 1, 1]);
  });
});
