import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import type { DetachInstancesRequest, DetachRequest } from '../shared/contracts/index.ts';
import { dispatchGroup, groupKeyOf } from '../shared/detach/dispatch.ts';
import { pollActivities } from '../shared/detach/poll.ts';
import type { Ledger, PendingItem } from '../shared/detach/ports.ts';
import { newOperation, submitRequest } from '../shared/detach/submit.ts';
import { aDetachRequest, aScalingGroup } from '../support/emulator-admin.ts';
import { aDomain } from './support/domain.ts';

/**
 * The poller's writes of cloud progress, on DynamoDB Local against the emulator: the progress of records whose
 * activities still run is written together (the ledger writes 100 in one transaction), not one after another,
 * and a pass that sees nothing new writes nothing.
 */
describe('progress of running activities', () => {
  it('is written for the records of a pass together, and not again when it did not move', async () => {
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
    const calls: number[] = [];
    const recordProgress: typeof ledger.recordProgress = async (updates) => {
      calls.push(updates.length);
      return ledger.recordProgress(updates);
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

    // Five activities of one region: one Describe call, and the five progresses written in one ledger call.
    expect(first.describeCalls).toBe(1);
    expect(calls).toEqual([5]);
    const records = await domain.ledger.getMany(requests.map((r) => r.requestId));
    expect(records.map((r) => r.cloudProgress?.statusCode)).toEqual(requests.map(() => 'InProgress'));

    calls.length = 0;
    await pollActivities({ ...domain.deps, ledger: counting });
    // An hour-long activity moves 1 % every 36 s: the second pass sees the same progress and writes nothing.
    expect(calls).toEqual([]);
  });

  it('follows a record whose activity was described earlier in the pass with that answer, not a new call', async () => {
    const domain = await aDomain();
    // One merged call for three requests, whose activity ends at once...
    const merged = await aScalingGroup(domain.admin, { instances: 3, activityDurationMs: 200 });
    const mergedRequests = merged.instanceIds.map(
      (id) => aDetachRequest(merged, { instanceIds: [id], preflight: false }) as DetachInstancesRequest,
    );
    for (const request of mergedRequests)
      await domain.ledger.begin(newOperation('detach-instances', request), domain.clock.now());
    await dispatchGroup(domain.deps, groupKeyOf(mergedRequests[0] as DetachInstancesRequest));
    // ...and twenty lone requests whose activities run on.
    const lone: DetachRequest[] = [];
    for (let i = 0; i < 20; i++) {
      const group = await aScalingGroup(domain.admin, { activityDurationMs: 3_600_000 });
      const request = aDetachRequest(group, { preflight: false }) as DetachInstancesRequest;
      await submitRequest(domain.deps, 'detach-instances', {
        body: request,
        messageId: request.requestId,
        receiveCount: 1,
      });
      lone.push(request);
    }
    await sleep(400);
    // The pending index in the order that makes two of the merged records come after their activity's batch
    // (the first merged record and 19 lone ones fill the API's 20) went out.
    const items = new Map<string, PendingItem>();
    for await (const item of domain.ledger.listPending())
      if (item.kind === 'record') items.set(item.record.requestId, item);
    const order = [
      mergedRequests[0],
      ...lone.slice(0, 19),
      mergedRequests[1],
      mergedRequests[2],
      lone[19],
    ].map((request) => items.get((request as DetachInstancesRequest).requestId) as PendingItem);
    expect(order.every(Boolean)).toBe(true);
    const ordered: Ledger = new Proxy(domain.ledger, {
      get: (target, name) => {
        if (name === 'listPending')
          return () => ({
            resumeFrom: () => undefined,
            async *[Symbol.asyncIterator]() {
              yield* order;
            },
          });
        const value = Reflect.get(target, name, target);
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });

    // The real provider, with the activity ids of each Describe call noted on their way through.
    const aliyun = domain.deps.providers.aliyun;
    const asked: string[] = [];
    const describing = Object.assign(Object.create(aliyun), {
      describeActivities: (region: string, ids: readonly string[]) => {
        asked.push(...ids);
        return aliyun.describeActivities(region, ids);
      },
    });

    const summary = await pollActivities({
      ...domain.deps,
      ledger: ordered,
      providers: { ...domain.deps.providers, aliyun: describing },
    });

    // 21 activities: two calls of the API's 20 and 1, each activity asked once; the late merged records were
    // followed with the first call's answer.
    expect(summary.describeCalls).toBe(2);
    expect(asked).toHaveLength(21);
    expect(new Set(asked).size).toBe(21);
    const mergedRecords = await domain.ledger.getMany(mergedRequests.map((r) => r.requestId));
    expect(mergedRecords.map((r) => r.status)).toEqual(['SUCCEEDED', 'SUCCEEDED', 'SUCCEEDED']);
    const loneRecords = await domain.ledger.getMany(lone.map((r) => r.requestId));
    expect(loneRecords.filter((r) => r.status === 'IN_PROGRESS' && r.cloudProgress)).toHaveLength(20);
  });
});
