import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { CompletionEvent } from '../shared/contracts/index.ts';
import { aDetachRequest, aScalingGroup } from '../support/emulator-admin.ts';
import { stackClients } from './support/stack-clients.ts';

/**
 * The whole path on the local stack: SQS message -> detach-instances -> ESS emulator activity -> poll-activities
 * (scheduled) -> EventBridge emulator -> record-delivery, which counts the events that came through the bus.
 */
const { send, waitForRecord, delivered, admin, ledger } = stackClients();
/**
 * The functions sign ESS calls as ALIYUN_SIGNATURE_VERSION says (serverless.yml reads it from the environment
 * locally): run this file with ALIYUN_SIGNATURE_VERSION=v3 to take the whole path with signature V3.
 */
const signedWith = process.env.ALIYUN_SIGNATURE_VERSION || 'rpc';

describe('end to end on the local stack', () => {
  it.concurrent('one message becomes exactly one Succeeded event carrying the activity id', async () => {
    const group = await aScalingGroup(admin, { instances: 3, activityDurationMs: 1000 });
    const request = aDetachRequest(group, { instanceIds: group.instanceIds.slice(0, 2) });

    await send('detach-instances', request);
    const record = await waitForRecord(request.requestId, delivered, 30_000);
    // Several more poll passes run; none may publish again.
    await sleep(2000);
    const settled = await ledger.get(request.requestId);

    const event = CompletionEvent.parse(record.event);
    const activities = (await admin.state()).aliyun.activities.filter(
      (a) => a.scalingGroupId === group.scalingGroupId,
    );
    const members = (await admin.state()).aliyun.instances.filter(
      (i) => i.scalingGroupId === group.scalingGroupId,
    );
    expect(event).toMatchObject({
      requestId: request.requestId,
      status: 'Succeeded',
      activityId: activities[0]?.id,
      scalingGroupId: group.scalingGroupId,
      instanceIds: request.instanceIds,
      cloud: { statusCode: 'Successful', progress: 100 },
    });
    expect(activities).toHaveLength(1);
    expect(members.map((m) => m.instanceId)).toEqual([group.instanceIds[2]]);
    const essCalls = await admin.calls({ scalingGroupId: group.scalingGroupId });
    expect(essCalls.filter((c) => c.action === 'DetachInstances')).toEqual([
      expect.objectContaining({ status: 200, signature: signedWith }),
    ]);
    expect(settled).toMatchObject({
      status: 'SUCCEEDED',
      deliveredEvents: 1,
      lastDeliveredStatus: 'Succeeded',
    });
  });

  it.concurrent.each([
    ['Warning', 'Partial', 'PARTIAL'],
    ['Failed', 'Failed', 'FAILED'],
    ['Rejected', 'Failed', 'FAILED'],
  ] as const)(
    'an activity that ends %s becomes one %s event',
    async (cloudStatus, eventStatus, ledgerStatus) => {
      const group = await aScalingGroup(admin, {
        activityDurationMs: 300,
        activityOutcomes: [{ status: cloudStatus, message: `the emulator was told to end ${cloudStatus}` }],
      });
      const request = aDetachRequest(group, { instanceIds: group.instanceIds.slice(0, 2) });

      await send('detach-instances', request);
      const record = await waitForRecord(
        request.requestId,
        (r) => delivered(r) && r.deliveredEvents === 1,
        30_000,
      );

      expect(record.status).toBe(ledgerStatus);
      expect(record.event).toMatchObject({
        status: eventStatus,
        cloud: { statusCode: cloudStatus, statusMessage: `the emulator was told to end ${cloudStatus}` },
      });
    },
  );

  it.concurrent('a Partial event says which instances left the group and which did not', async () => {
    const group = await aScalingGroup(admin, {
      activityDurationMs: 200,
      activityOutcomes: [{ status: 'Warning', message: '1 of 2 instances detached' }],
    });
    const request = aDetachRequest(group, { instanceIds: group.instanceIds.slice(0, 2) });

    await send('detach-instances', request);
    const record = await waitForRecord(request.requestId, delivered, 30_000);

    expect(record.event).toMatchObject({
      status: 'Partial',
      instances: { detached: [group.instanceIds[0]], notDetached: [group.instanceIds[1]] },
    });
  });

  it.concurrent('remove-instances: one Succeeded event, the AutoCreated instance released', async () => {
    const group = await aScalingGroup(admin, { activityDurationMs: 300 });
    const request = aDetachRequest(group, { removePolicy: 'release' });

    await send('remove-instances', request);
    const record = await waitForRecord(request.requestId, delivered, 30_000);

    const instance = (await admin.state()).aliyun.instances.find(
      (i) => i.instanceId === group.instanceIds[0],
    );
    expect(record.event).toMatchObject({
      status: 'Succeeded',
      action: 'remove-instances',
      activityId: expect.stringMatching(/^asa-/),
    });
    expect(instance?.status).toBe('Released');
    expect(record.deliveredEvents).toBe(1);
  });

  it.concurrent('detach-vserver-groups: no activity, so the poller reconciles, then one Succeeded event', async () => {
    const group = await aScalingGroup(admin, {
      activityDurationMs: 1000,
      vServerGroups: [{ loadBalancerId: 'lb-1', vServerGroupId: 'rsp-1', port: 80 }],
    });
    const request = aDetachRequest(group, {
      instanceIds: undefined,
      vServerGroups: [
        { loadBalancerId: 'lb-1', vServerGroupAttributes: [{ vServerGroupId: 'rsp-1', port: 80 }] },
      ],
    });

    await send('detach-vserver-groups', JSON.parse(JSON.stringify(request)));
    const submitted = await waitForRecord(request.requestId, (r) => r.status === 'SUBMITTED');
    const record = await waitForRecord(request.requestId, delivered, 30_000);

    expect(submitted.activityId).toBeUndefined();
    expect(record.event).toMatchObject({
      status: 'Succeeded',
      serverGroupIds: ['rsp-1'],
      cloud: { statusCode: 'Reconciled' },
    });
    expect(record.event?.activityId).toBeUndefined();
  });

  it.concurrent('detach-alb-server-groups: with ForceDetach an activity to follow, without it reconciliation', async () => {
    const forced = await aScalingGroup(admin, {
      activityDurationMs: 300,
      albServerGroups: [{ albServerGroupId: 'sgp-1', port: 80 }],
    });
    const plain = await aScalingGroup(admin, {
      activityDurationMs: 300,
      albServerGroups: [{ albServerGroupId: 'sgp-1', port: 80 }],
    });
    const body = (group: typeof forced, forceDetach: boolean) =>
      JSON.parse(
        JSON.stringify(
          aDetachRequest(group, {
            instanceIds: undefined,
            albServerGroups: [{ albServerGroupId: 'sgp-1', port: 80 }],
            forceDetach,
          }),
        ),
      );
    const withForce = body(forced, true);
    const withoutForce = body(plain, false);

    await send('detach-alb-server-groups', withForce);
    await send('detach-alb-server-groups', withoutForce);
    const [forcedRecord, plainRecord] = await Promise.all([
      waitForRecord(withForce.requestId, delivered, 30_000),
      waitForRecord(withoutForce.requestId, delivered, 30_000),
    ]);

    expect(forcedRecord.event).toMatchObject({
      status: 'Succeeded',
      activityId: expect.stringMatching(/^asa-/),
    });
    expect(plainRecord.event).toMatchObject({ status: 'Succeeded', cloud: { statusCode: 'Reconciled' } });
  });

  it.concurrent('a change that never shows up ends TimedOut (OPERATION_TIMEOUT_SECONDS, 12 s here)', async () => {
    const group = await aScalingGroup(admin, {
      activityDurationMs: 600_000,
      vServerGroups: [{ loadBalancerId: 'lb-1', vServerGroupId: 'rsp-1', port: 80 }],
    });
    const request = JSON.parse(
      JSON.stringify(
        aDetachRequest(group, {
          instanceIds: undefined,
          vServerGroups: [
            { loadBalancerId: 'lb-1', vServerGroupAttributes: [{ vServerGroupId: 'rsp-1', port: 80 }] },
          ],
        }),
      ),
    );

    await send('detach-vserver-groups', request);
    const record = await waitForRecord(request.requestId, delivered, 40_000);

    expect(record.status).toBe('TIMED_OUT');
    expect(record.event?.error).toMatchObject({ code: 'TimedOut' });
  });
});
