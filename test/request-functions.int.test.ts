import { describe, expect, it } from 'vitest';
import { aDetachRequest, aScalingGroup, type GroupOptions, uniqueId } from '../support/emulator-admin.ts';
import { stackClients } from './support/stack-clients.ts';

/** The request functions behind their FIFO queues: fauxqs -> bridge -> serverless-offline -> emulator. */
const { send, waitForRecord, delivered, admin } = stackClients();
const ACTION = 'detach-instances';

const aRequest = aDetachRequest;

describe('detach-instances function', () => {
  it('sends a valid request to ESS once and records the activity', async () => {
    const group = await aScalingGroup(admin);
    const request = aRequest(group);

    await send(ACTION, request);
    const record = await waitForRecord(request.requestId, (r) => r.activityId !== undefined);

    const calls = await admin.calls({ action: 'DetachInstances', scalingGroupId: group.scalingGroupId });
    expect(calls).toHaveLength(1);
    expect(calls[0]?.params.ClientToken).toBe(request.requestId);
    expect(record.activityId).toMatch(/^asa-/);
  });

  it('a second delivery of the same request does not detach twice', async () => {
    const group = await aScalingGroup(admin);
    const request = aRequest(group);

    await send(ACTION, request, { deduplicationId: uniqueId('first') });
    await waitForRecord(request.requestId, (r) => r.activityId !== undefined);
    await send(ACTION, request, { deduplicationId: uniqueId('second') });
    await waitForRecord(request.requestId, delivered);

    expect(
      await admin.calls({ action: 'DetachInstances', scalingGroupId: group.scalingGroupId }),
    ).toHaveLength(1);
  });

  it('rejects a body that is not JSON: a Rejected event under the message id, no retry, nothing in the DLQ', async () => {
    const requestId = uniqueId('req');

    const messageId = await send(ACTION, `{"requestId":"${requestId}", oops`, {
      groupId: uniqueId('bad'),
      deduplicationId: requestId,
    });
    const record = await waitForRecord(`sqs:${messageId}`, delivered);

    expect(record).toMatchObject({ status: 'REJECTED', attempts: 1, lastDeliveredStatus: 'Rejected' });
    expect(record.event?.error).toMatchObject({
      code: 'InvalidRequest',
      issues: [{ path: '(root)', message: 'The message body is not valid JSON.' }],
    });
  });

  it('rejects a contract violation with the field paths, once, without a cloud call', async () => {
    const group = await aScalingGroup(admin);
    const request = aRequest(group, {
      instanceIds: Array.from({ length: 21 }, (_, i) => `i-${i}`),
      region: 'Hangzhou',
    });

    await send(ACTION, request);
    const record = await waitForRecord(request.requestId, delivered);

    expect(record.status).toBe('REJECTED');
    expect(record.attempts).toBe(1);
    expect(record.event?.error?.issues?.map((issue) => issue.path).sort()).toEqual(['instanceIds', 'region']);
    expect(await admin.calls({ scalingGroupId: group.scalingGroupId })).toEqual([]);
  });

  it.concurrent.each([
    ['detach-instances', 'DetachInstances', {}, {}],
    ['remove-instances', 'RemoveInstances', {}, {}],
    [
      'detach-alb-server-groups',
      'DetachAlbServerGroups',
      { albServerGroups: [{ albServerGroupId: 'sgp-1', port: 80 }] },
      {
        instanceIds: undefined,
        albServerGroups: [{ albServerGroupId: 'sgp-1', port: 80 }],
        forceDetach: true,
      },
    ],
  ] satisfies [string, string, GroupOptions, Record<string, unknown>][])(
    '%s: a 503 and a dropped answer are retried with the same ClientToken, and make one activity',
    async (action, cloudAction, groupOptions, requestOverrides) => {
      const group = await aScalingGroup(admin, groupOptions);
      await admin.inject(
        {
          action: cloudAction,
          scalingGroupId: group.scalingGroupId,
          error: { code: 'ServiceUnavailable', httpStatus: 503 },
        },
        // The emulator acts, then drops the connection: the ambiguous failure ClientToken exists for.
        { action: cloudAction, scalingGroupId: group.scalingGroupId, drop: 'after' },
      );
      const request = JSON.parse(JSON.stringify(aRequest(group, requestOverrides)));

      await send(action, request);
      const record = await waitForRecord(request.requestId, delivered, 30_000);

      const calls = await admin.calls({ action: cloudAction, scalingGroupId: group.scalingGroupId });
      const activities = (await admin.state()).aliyun.activities.filter(
        (a) => a.scalingGroupId === group.scalingGroupId,
      );
      expect(calls.map((call) => call.params.ClientToken)).toEqual([
        request.requestId,
        request.requestId,
        request.requestId,
      ]);
      expect(activities).toHaveLength(1);
      expect(record).toMatchObject({ status: 'SUCCEEDED', activityId: activities[0]?.id });
    },
  );
});
