import { describe, expect, it } from 'vitest';
import { aDetachRequest, aScalingGroup, startOutsideActivity, uniqueId } from './support/emulator-admin.ts';
import { stackClients } from './support/stack-clients.ts';
import { aTencentGroup, aTencentRequest } from './support/tencent.ts';

/** The preflight reads the group first: refusals make no cloud call; instances already out count as done. */
const { send, waitForRecord, delivered, admin, stack } = stackClients();
const detachCalls = (scalingGroupId: string) => admin.calls({ action: 'DetachInstances', scalingGroupId });

describe('preflight', () => {
  it.concurrent.each([
    ['a group that is not active', { lifecycleState: 'Inactive' as const }, 'Preflight.GroupNotFound'],
    ['a request below MinSize', { minSize: 3 }, 'Preflight.BelowMinSize'],
  ])('refuses %s without a cloud call', async (_name, options, code) => {
    const group = await aScalingGroup(admin, options);
    const request = aDetachRequest(group);

    await send('detach-instances', request);
    const record = await waitForRecord(request.requestId, delivered);

    expect(record.status).toBe('FAILED');
    expect(record.event?.error).toMatchObject({ code, kind: 'fatal' });
    expect(await detachCalls(group.scalingGroupId)).toEqual([]);
  });

  it.concurrent('reports instances in a state the API refuses, and sends nothing', async () => {
    const group = await aScalingGroup(admin);
    const pending = uniqueId('i');
    await admin.add({
      aliyun: {
        instances: [{ instanceId: pending, scalingGroupId: group.scalingGroupId, lifecycleState: 'Pending' }],
      },
    });
    const request = aDetachRequest(group, { instanceIds: [pending] });

    await send('detach-instances', request);
    const record = await waitForRecord(request.requestId, delivered);

    expect(record.event).toMatchObject({
      status: 'Failed',
      error: { code: 'Preflight.InstanceStateRefused' },
      plan: { refused: [{ instanceId: pending, state: 'Pending' }] },
    });
    expect(await detachCalls(group.scalingGroupId)).toEqual([]);
  });

  it.concurrent('counts instances already out of the group as done, and sends only the rest', async () => {
    const group = await aScalingGroup(admin);
    const gone = aDetachRequest(group, { instanceIds: ['i-long-gone'] });
    const mixed = aDetachRequest(group, { instanceIds: [group.instanceIds[0], 'i-long-gone'] });

    await send('detach-instances', gone);
    const goneRecord = await waitForRecord(gone.requestId, delivered);
    await send('detach-instances', mixed);
    const mixedRecord = await waitForRecord(mixed.requestId, delivered, 30_000);

    const calls = await detachCalls(group.scalingGroupId);
    expect(goneRecord.event).toMatchObject({ status: 'Succeeded', cloud: { statusCode: 'AlreadyDetached' } });
    expect(mixedRecord.event).toMatchObject({
      status: 'Succeeded',
      plan: { send: [group.instanceIds[0]], alreadyDetached: ['i-long-gone'] },
    });
    expect(calls).toHaveLength(1);
    expect(calls[0]?.params).toMatchObject({ 'InstanceId.1': group.instanceIds[0] });
    expect(calls[0]?.params['InstanceId.2']).toBeUndefined();
  });

  it.concurrent('waits while the cloud shows an activity it did not start, then sends, never refused', async () => {
    const group = await aScalingGroup(admin, { activityDurationMs: 2500 });
    await startOutsideActivity(stack.endpoints.emulator, group);
    const request = aDetachRequest(group);

    await send('detach-instances', request);
    const record = await waitForRecord(request.requestId, delivered, 30_000);

    const calls = await detachCalls(group.scalingGroupId);
    expect(record.status).toBe('SUCCEEDED');
    expect(calls).toHaveLength(2);
    expect(calls.map((c) => c.code)).toEqual([undefined, undefined]);
  });

  it.concurrent('dryRun ends with the plan as a DryRun event, and acts on nothing', async () => {
    const group = await aScalingGroup(admin, { minSize: 1 });
    const request = aDetachRequest(group, { instanceIds: group.instanceIds.slice(0, 2), dryRun: true });

    await send('remove-instances', request);
    const record = await waitForRecord(request.requestId, delivered);

    expect(record.status).toBe('DRY_RUN');
    expect(record.event).toMatchObject({
      status: 'DryRun',
      plan: {
        send: group.instanceIds.slice(0, 2),
        alreadyDetached: [],
        refused: [],
        groupState: 'Active',
        minSize: 1,
        capacity: 3,
      },
    });
    expect(await admin.calls({ action: 'RemoveInstances', scalingGroupId: group.scalingGroupId })).toEqual(
      [],
    );
  });

  it.concurrent('Tencent API 3.0: below MinSize is refused without a DetachInstances call', async () => {
    const group = await aTencentGroup(admin, { minSize: 3 });
    const request = aTencentRequest(group);

    await send('detach-instances', request);
    const record = await waitForRecord(request.requestId, delivered);

    expect(record.event?.error).toMatchObject({ code: 'Preflight.BelowMinSize' });
    expect(
      (await admin.state()).tencent.activities.filter((a) => a.groupId === group.scalingGroupId),
    ).toEqual([]);
  });
});
