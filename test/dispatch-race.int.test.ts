import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import type { DetachInstancesRequest } from '../shared/contracts/index.ts';
import { dispatchGroup, groupKeyOf } from '../shared/detach/dispatch.ts';
import { pollActivities } from '../shared/detach/poll.ts';
import { newOperation } from '../shared/detach/submit.ts';
import { aDetachRequest, aScalingGroup } from '../support/emulator-admin.ts';
import { aTencentGroup, aTencentRequest } from '../support/tencent.ts';
import { aDomain } from './support/domain.ts';

/**
 * Dispatchers (the queue function's and the poller's) racing on one group against DynamoDB Local, with cloud
 * calls slower than the lease: a second dispatcher takes the lease while the first is still inside its call. The
 * fence and the intent must keep the cloud to one activity of ours at a time, and every request to one end.
 */
const variants = [
  {
    name: 'ESS (the repeated call carries the same ClientToken)',
    action: 'DetachInstances',
    async arrange(admin: Parameters<typeof aScalingGroup>[0]) {
      const group = await aScalingGroup(admin, { instances: 9, activityDurationMs: 250 });
      const requests = group.instanceIds.map((id) =>
        aDetachRequest(group, { instanceIds: [id], preflight: false }),
      );
      return { group, requests: requests as DetachInstancesRequest[] };
    },
  },
  {
    name: 'Tencent API 3.0 (no token: a call is resolved only once it can no longer act)',
    action: 'DetachInstances',
    async arrange(admin: Parameters<typeof aScalingGroup>[0]) {
      const group = await aTencentGroup(admin, { instances: 9, activityDurationMs: 250 });
      const requests = group.instanceIds.map((id) =>
        aTencentRequest(group, { instanceIds: [id], preflight: false }),
      );
      return { group, requests: requests as DetachInstancesRequest[] };
    },
  },
];

describe('racing dispatchers', () => {
  it.concurrent.each(variants.map((v) => [v.name, v] as const))('%s', async (_, variant) => {
    const domain = await aDomain({ leaseMs: 300, settleMs: 1500 });
    const { group, requests } = await variant.arrange(domain.admin);
    // Arrival in three waves, so that several batches are formed while calls are slow.
    const waves = [requests.slice(0, 3), requests.slice(3, 6), requests.slice(6)];
    await domain.admin.inject({
      action: variant.action,
      scalingGroupId: group.scalingGroupId,
      latencyMs: 900,
      times: 4,
    });
    const groupKey = groupKeyOf(requests[0] as DetachInstancesRequest);
    const outcomes: PromiseSettledResult<unknown>[] = [];

    for (const wave of waves) {
      for (const request of wave)
        await domain.ledger.begin(newOperation('detach-instances', request), domain.clock.now());
      for (let round = 0; round < 3; round++) {
        outcomes.push(
          ...(await Promise.allSettled([
            dispatchGroup(domain.deps, groupKey),
            dispatchGroup(domain.deps, groupKey),
            pollActivities(domain.deps),
            // Past the lease, while a slow call may still run: the lease is taken over under it.
            sleep(450).then(() => dispatchGroup(domain.deps, groupKey)),
            sleep(700).then(() => pollActivities(domain.deps)),
          ])),
        );
        await sleep(350);
      }
    }
    const records = await domain.settle(
      requests.map((r) => r.requestId),
      60,
    );

    expect(outcomes.filter((o) => o.status === 'rejected')).toEqual([]);
    const kinds = outcomes.map((o) =>
      o.status === 'fulfilled' ? (o.value as { kind?: string }).kind : undefined,
    );
    // The race did happen: a dispatcher found its lease gone after its call, and changed nothing more.
    expect(kinds).toContain('lost-lease');
    expect(records.map((r) => r.status)).toEqual(requests.map(() => 'SUCCEEDED'));
    for (const request of requests) expect(domain.publisher.eventIdsOf(request.requestId).size).toBe(1);
    const state = (await domain.admin.state()) as unknown as {
      aliyun: {
        activities: { scalingGroupId: string; instanceIds: string[]; startedAt: number; endsAt: number }[];
      };
      tencent: {
        activities: { groupId: string; instanceIds: string[]; startedAt: number; endsAt: number }[];
      };
    };
    const activities = [
      ...state.aliyun.activities.filter((a) => a.scalingGroupId === group.scalingGroupId),
      ...state.tencent.activities.filter((a) => a.groupId === group.scalingGroupId),
    ].sort((a, b) => a.startedAt - b.startedAt);
    for (let i = 1; i < activities.length; i++)
      expect(activities[i]?.startedAt).toBeGreaterThanOrEqual(activities[i - 1]?.endsAt as number);
    const acted = activities.flatMap((a) => a.instanceIds);
    expect(acted.sort()).toEqual(group.instanceIds.slice().sort());
    expect(await domain.groupItem(groupKey)).toMatchObject({ intent: undefined, activityId: undefined });
  });
});
