import { describe, expect, it } from 'vitest';
import { aDetachRequest, aScalingGroup } from '../support/emulator-admin.ts';
import { stackClients } from './support/stack-clients.ts';

/**
 * Per-group serialization and coalescing on the local stack: requests for one group wait on our side while
 * our activity runs, then go merged up to the API's limit, each still ending in its own event.
 */
const { send, waitForRecord, delivered, admin } = stackClients();

describe('group-aware dispatch', () => {
  it.concurrent('45 one-instance requests for one ESS group: merged into few calls, never two activities at once, one event each', async () => {
    const group = await aScalingGroup(admin, { instances: 46, activityDurationMs: 1500 });
    const requests = group.instanceIds
      .slice(0, 45)
      .map((id) => aDetachRequest(group, { instanceIds: [id], preflight: false }));

    await Promise.all(requests.map((request) => send('detach-instances', request)));
    const records = await Promise.all(requests.map((r) => waitForRecord(r.requestId, delivered, 45_000)));

    const calls = await admin.calls({ action: 'DetachInstances', scalingGroupId: group.scalingGroupId });
    const activities = (await admin.state()).aliyun.activities
      .filter((a) => a.scalingGroupId === group.scalingGroupId)
      .sort((a, b) => a.startedAt - b.startedAt);
    // ceil(45 / 20) = 3 when all wait at once; the first request may go alone before the others arrive.
    expect(calls.length).toBeLessThanOrEqual(4);
    expect(calls.every((call) => call.code === undefined)).toBe(true);
    expect(
      Math.max(
        ...calls.map((call) => Object.keys(call.params).filter((k) => k.startsWith('InstanceId.')).length),
      ),
    ).toBe(20);
    for (let i = 1; i < activities.length; i++) {
      expect(activities[i]?.startedAt).toBeGreaterThanOrEqual(activities[i - 1]?.endsAt as number);
    }
    expect(records.every((r) => r.status === 'SUCCEEDED' && r.deliveredEvents === 1)).toBe(true);
    expect(records.map((r) => r.event?.instanceIds)).toEqual(requests.map((r) => r.instanceIds));
    const members = (await admin.state()).aliyun.instances.filter(
      (i) => i.scalingGroupId === group.scalingGroupId,
    );
    expect(members.map((m) => m.instanceId)).toEqual([group.instanceIds[45]]);
  });
});
