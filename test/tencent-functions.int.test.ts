import { describe, expect, it } from 'vitest';
import { aTencentGroup, aTencentRequest } from '../support/tencent.ts';
import { stackClients } from './support/stack-clients.ts';

/** Tencent requests through the queues, the functions, the Tencent emulator and the poller, to one event. */
const { send, waitForRecord, delivered, admin } = stackClients();

const activitiesOf = async (groupId: string) =>
  (await admin.state()).tencent.activities.filter((a) => a.groupId === groupId);

describe('Tencent Cloud AS end to end', () => {
  it.concurrent('API 3.0 DetachInstances: the ActivityId is followed to one Succeeded event', async () => {
    const group = await aTencentGroup(admin);
    const request = aTencentRequest(group, { instanceIds: group.instanceIds.slice(0, 2) });

    await send('detach-instances', request);
    const record = await waitForRecord(request.requestId, delivered, 30_000);

    const [activity] = await activitiesOf(group.scalingGroupId);
    expect(record.event).toMatchObject({
      status: 'Succeeded',
      provider: 'tencent',
      activityId: activity?.id,
      cloud: { statusCode: 'SUCCESSFUL' },
    });
    expect(record.deliveredEvents).toBe(1);
  });

  it.concurrent('API 3.0 RemoveInstances: one Succeeded event, the auto-created instance terminated', async () => {
    const group = await aTencentGroup(admin);
    const request = aTencentRequest(group);

    await send('remove-instances', request);
    const record = await waitForRecord(request.requestId, delivered, 30_000);

    const instance = (await admin.state()).tencent.instances.find(
      (i) => i.instanceId === group.instanceIds[0],
    );
    expect(record.event).toMatchObject({ status: 'Succeeded', action: 'remove-instances' });
    expect(instance?.status).toBe('TERMINATED');
  });

  it.concurrent('legacy v2 DetachInstance: no activity id, confirmed by reconciliation, keepInstance honoured', async () => {
    const group = await aTencentGroup(admin, { activityDurationMs: 800 });
    const request = aTencentRequest(group, { apiVersion: 'v2', keepInstance: 1 });

    await send('detach-instances', request);
    const submitted = await waitForRecord(request.requestId, (r) => r.status === 'SUBMITTED');
    const record = await waitForRecord(request.requestId, delivered, 30_000);

    const instance = (await admin.state()).tencent.instances.find(
      (i) => i.instanceId === group.instanceIds[0],
    );
    expect(submitted.activityId).toBeUndefined();
    expect(record.event).toMatchObject({ status: 'Succeeded', cloud: { statusCode: 'Reconciled' } });
    expect(instance).toMatchObject({ status: 'RUNNING' });
    expect(instance?.autoScalingGroupId).toBeUndefined();
  });

  it.concurrent('PARTIALLY_SUCCESSFUL becomes Partial with the instances that did and did not leave', async () => {
    const group = await aTencentGroup(admin, { activityOutcomes: ['PARTIALLY_SUCCESSFUL'] });
    const request = aTencentRequest(group, { instanceIds: group.instanceIds.slice(0, 2) });

    await send('detach-instances', request);
    const record = await waitForRecord(request.requestId, delivered, 30_000);

    expect(record.event).toMatchObject({
      status: 'Partial',
      cloud: { statusCode: 'PARTIALLY_SUCCESSFUL' },
      instances: { detached: [group.instanceIds[0]], notDetached: [group.instanceIds[1]] },
    });
  });

  it.concurrent.each([
    ['FAILED', 'Failed'],
    ['CANCELLED', 'Failed'],
  ] as const)('%s becomes one %s event', async (outcome, status) => {
    const group = await aTencentGroup(admin, { activityOutcomes: [outcome] });
    const request = aTencentRequest(group);

    await send('detach-instances', request);
    const record = await waitForRecord(request.requestId, delivered, 30_000);

    expect(record.event).toMatchObject({ status, cloud: { statusCode: outcome } });
  });

  // The seed's two DetachInstance codes, through our function: fatal, one Failed event.
  it.concurrent.each([
    [
      'InvalidParameter.ScalingGroupIdError',
      (g: { scalingGroupId: string }) => ({ ...g, scalingGroupId: 'asg-nowhere0' }),
    ],
    [
      'InvalidParameter.InstanceIdError',
      (g: { instanceIds: string[] }) => ({ ...g, instanceIds: ['ins-elsewhere'] }),
    ],
  ] as const)('v2 %s ends in a Failed event', async (code, change) => {
    const group = change(await aTencentGroup(admin)) as Awaited<ReturnType<typeof aTencentGroup>>;
    const request = aTencentRequest(group, { apiVersion: 'v2' });

    await send('detach-instances', request);
    const record = await waitForRecord(request.requestId, delivered, 30_000);

    expect(record.status).toBe('FAILED');
    expect(record.event?.error).toMatchObject({ code, kind: 'fatal' });
  });

  it.concurrent('a request for a group with an activity of ours waits for it on our side, never hitting the cloud busy', async () => {
    const group = await aTencentGroup(admin, { activityDurationMs: 1500 });
    const first = aTencentRequest(group, { instanceIds: [group.instanceIds[0]] });
    const second = aTencentRequest(group, { instanceIds: [group.instanceIds[1]] });

    await send('detach-instances', first, { groupId: `${first.requestId}` });
    await waitForRecord(first.requestId, (r) => r.status === 'IN_PROGRESS');
    await send('detach-instances', second, { groupId: `${second.requestId}` });
    const record = await waitForRecord(second.requestId, delivered, 30_000);

    const calls = await admin.calls({ action: 'DetachInstances', scalingGroupId: group.scalingGroupId });
    const activities = (await admin.state()).tencent.activities.filter(
      (a) => a.groupId === group.scalingGroupId,
    );
    expect(record.status).toBe('SUCCEEDED');
    expect(record.lastError).toBeUndefined();
    expect(calls.map((c) => c.code)).toEqual([undefined, undefined]);
    expect(activities).toHaveLength(2);
  });

  it.concurrent('a dropped answer (no idempotency token at Tencent) adopts the activity it started instead of a second', async () => {
    const group = await aTencentGroup(admin, { activityDurationMs: 1000 });
    await admin.inject({ action: 'DetachInstances', scalingGroupId: group.scalingGroupId, drop: 'after' });
    const request = aTencentRequest(group);

    await send('detach-instances', request);
    // Without a token the lost call is resolved only once it can no longer act: settleMs, three calls' timeouts
    // (3 s connect + 10 s response) and 5 s, so about 44 s on this stack.
    const record = await waitForRecord(request.requestId, delivered, 90_000);

    const activities = await activitiesOf(group.scalingGroupId);
    expect(activities).toHaveLength(1);
    expect(record).toMatchObject({ status: 'SUCCEEDED', activityId: activities[0]?.id });
  }, 120_000);

  it.concurrent('keepInstance with API 3.0 is refused by the contract', async () => {
    const group = await aTencentGroup(admin);
    const request = aTencentRequest(group, { keepInstance: 0 });

    await send('detach-instances', request);
    const record = await waitForRecord(request.requestId, delivered);

    expect(record.status).toBe('REJECTED');
    expect(record.event?.error?.issues).toEqual([
      { path: 'keepInstance', message: expect.stringContaining('keepInstance belongs to the v2 API') },
    ]);
  });
});
