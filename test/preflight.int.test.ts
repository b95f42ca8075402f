import { describe, expect, it } from 'vitest';
import type { OperationRecord } from '../shared/detach/ports.ts';
import { aDetachRequest, aScalingGroup, startOutsideActivity, uniqueId } from '../support/emulator-admin.ts';
import { aTencentGroup, aTencentRequest } from '../support/tencent.ts';
import { stackClients } from './support/stack-clients.ts';

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

  it.concurrent('an instance this service took out counts as done; one it never saw is notInGroup, not a success', async () => {
    const group = await aScalingGroup(admin);
    const first = aDetachRequest(group, { instanceIds: [group.instanceIds[1]] });
    await send('detach-instances', first);
    await waitForRecord(first.requestId, delivered);
    const again = aDetachRequest(group, { instanceIds: [group.instanceIds[1]] });
    const typo = aDetachRequest(group, { instanceIds: ['i-never-in-this-group'] });
    const mixed = aDetachRequest(group, { instanceIds: [group.instanceIds[0], 'i-never-in-this-group'] });
    const ignored = aDetachRequest(group, {
      instanceIds: ['i-never-in-this-group'],
      ignoreInvalidInstance: true,
    });

    for (const request of [again, typo, mixed, ignored]) await send('detach-instances', request);
    const [againRecord, typoRecord, mixedRecord, ignoredRecord] = (await Promise.all(
      [again, typo, mixed, ignored].map((r) => waitForRecord(r.requestId, delivered, 30_000)),
    )) as [OperationRecord, OperationRecord, OperationRecord, OperationRecord];

    expect(againRecord.event).toMatchObject({
      status: 'Succeeded',
      cloud: { statusCode: 'AlreadyDetached' },
      plan: { alreadyDetached: [group.instanceIds[1]], notInGroup: [] },
    });
    expect(typoRecord.event).toMatchObject({
      status: 'Failed',
      error: { code: 'Preflight.NotInGroup' },
      instances: { notInGroup: ['i-never-in-this-group'] },
    });
    expect(mixedRecord.event).toMatchObject({
      status: 'Partial',
      plan: { send: [group.instanceIds[0]], notInGroup: ['i-never-in-this-group'] },
      instances: { detached: [group.instanceIds[0]], notInGroup: ['i-never-in-this-group'] },
    });
    expect(ignoredRecord.event).toMatchObject({
      status: 'Succeeded',
      plan: { notInGroup: ['i-never-in-this-group'] },
    });
    const calls = await detachCalls(group.scalingGroupId);
    // The first request's call, and the mixed request's call with only the instance in the group.
    expect(calls.map((call) => call.params['InstanceId.1'])).toEqual([
      group.instanceIds[1],
      group.instanceIds[0],
    ]);
    expect(calls[1]?.params['InstanceId.2']).toBeUndefined();
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
