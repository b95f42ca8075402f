import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { CompletionEvent } from '../shared/contracts/index.ts';
import { aDetachRequest, aScalingGroup } from './support/emulator-admin.ts';
import { stackClients } from './support/stack-clients.ts';

/**
 * The whole path on the local stack: SQS message -> detach-instances -> ESS emulator activity -> poll-activities
 * (scheduled) -> EventBridge emulator -> record-delivery, which counts the events that came through the bus.
 */
const { send, waitForRecord, delivered, admin, ledger } = stackClients();

describe('end to end on the local stack', () => {
  it('one message becomes exactly one Succeeded event carrying the activity id', async () => {
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
});
