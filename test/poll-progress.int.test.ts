import { describe, expect, it } from 'vitest';
import { pollActivities } from '../shared/detach/poll.ts';
import { submitRequest } from '../shared/detach/submit.ts';
import { aDomain } from './support/domain.ts';
import { aDetachRequest, aScalingGroup } from './support/emulator-admin.ts';

/**
 * The poller's writes of cloud progress, on DynamoDB Local against the emulator: the records of one Describe
 * batch whose activities still run have their progress written together, not one after another, and a pass
 * that sees nothing new writes nothing.
 */
describe('progress of running activities', () => {
  it('is written for every record of a Describe batch at once, and not again when it did not move', async () => {
    const domain = await aDomain();
    const requests = [];
    for (let i = 0; i < 5; i++) {
      const group = await aScalingGroup(domain.admin, { activityDurationMs: 3_600_000 });
      const request = aDetachRequest(group, { preflight: false });
      const outcome = await submitRequest(domain.deps, 'detach-instances', {
        body: request,
        messageId: request.requestId,
        receiveCount: 1,
      });
      expect(outcome).toMatchObject({ kind: 'queued', dispatch: 'sent' });
      requests.push(request);
    }
    const ledger = domain.deps.ledger;
    let inFlight = 0;
    let mostInFlight = 0;
    let writes = 0;
    const recordProgress: typeof ledger.recordProgress = async (requestId, progress) => {
      writes++;
      inFlight++;
      mostInFlight = Math.max(mostInFlight, inFlight);
      try {
        await ledger.recordProgress(requestId, progress);
      } finally {
        inFlight--;
      }
    };
    // The real ledger, with its progress writes counted on their way through.
    const counting = new Proxy(ledger, {
      get: (target, name) => {
        if (name === 'recordProgress') return recordProgress;
        const value = Reflect.get(target, name, target);
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });

    const first = await pollActivities({ ...domain.deps, ledger: counting });

    // Five activities of one region: one Describe call, and the five writes in flight together.
    expect(first.describeCalls).toBe(1);
    expect(writes).toBe(5);
    expect(mostInFlight).toBe(5);
    const records = await domain.ledger.getMany(requests.map((r) => r.requestId));
    expect(records.map((r) => r.cloudProgress?.statusCode)).toEqual(requests.map(() => 'InProgress'));

    writes = 0;
    await pollActivities({ ...domain.deps, ledger: counting });
    // An hour-long activity moves 1 % every 36 s: the second pass sees the same progress and writes nothing.
    expect(writes).toBe(0);
  });
});
