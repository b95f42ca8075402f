import { describe, expect, it } from 'vitest';
import { EssClient } from '../shared/providers/aliyun/ess-client.ts';
import { createHttpAgent } from '../shared/providers/http.ts';
import {
  aDetachRequest,
  aScalingGroup,
  EMULATOR_KEY,
  type GroupOptions,
  uniqueId,
} from './support/emulator-admin.ts';
import { stackClients } from './support/stack-clients.ts';

/** The detach-instances function behind its FIFO queue: fauxqs -> bridge -> serverless-offline -> emulator. */
const { send, waitForRecord, delivered, admin, stack, dlqMessages } = stackClients();
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
    expect(await dlqMessages(ACTION)).toEqual([]);
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

  // Fatal seed error codes: one Failed event carrying the cloud's code and message, no retry.
  it.concurrent.each([
    ['IncorrectScalingGroupStatus', { lifecycleState: 'Inactive' }],
    ['IncorrectCapacity.MinSize', { minSize: 3 }],
    ['Forbidden.Unauthorized', { unauthorizedActions: ['DetachInstances'] }],
  ] satisfies [string, GroupOptions][])('%s ends in a Failed event without retry', async (code, options) => {
    const group = await aScalingGroup(admin, options);
    const request = aRequest(group);

    await send(ACTION, request);
    const record = await waitForRecord(request.requestId, delivered);

    expect(record.status).toBe('FAILED');
    expect(record.event?.error).toMatchObject({ code, kind: 'fatal' });
    expect(
      await admin.calls({ action: 'DetachInstances', scalingGroupId: group.scalingGroupId }),
    ).toHaveLength(1);
  });

  it.concurrent('InvalidScalingGroupId.NotFound and InvalidInstanceId.NotFound end in Failed events', async () => {
    const group = await aScalingGroup(admin);
    const noGroup = aRequest({ ...group, scalingGroupId: uniqueId('asg-missing') });
    const noInstance = aRequest({ ...group, instanceIds: ['i-missing'] });

    await send(ACTION, noGroup);
    await send(ACTION, noInstance);
    const [groupRecord, instanceRecord] = await Promise.all([
      waitForRecord(noGroup.requestId, delivered),
      waitForRecord(noInstance.requestId, delivered),
    ]);

    expect(groupRecord.event?.error).toMatchObject({ code: 'InvalidScalingGroupId.NotFound', kind: 'fatal' });
    expect(instanceRecord.event?.error).toMatchObject({
      code: 'InvalidInstanceId.NotFound',
      message: 'Instance "i-missing" does not exist.',
    });
  });

  // Busy seed error codes: retried through SQS, and given up with RetriesExhausted after MAX_ATTEMPTS (4 here).
  it.concurrent.each([
    ['IncorrectLoadBalancerStatus', { loadBalancers: [{ id: 'lb-1', status: 'Inactive' }] }],
    ['IncorrectDBInstanceStatus', { dbInstances: [{ id: 'rm-1', status: 'Stopped' }] }],
  ] satisfies [string, GroupOptions][])(
    '%s is retried, then ends Failed with RetriesExhausted',
    async (code, options) => {
      const group = await aScalingGroup(admin, options);
      const request = aRequest(group);

      await send(ACTION, request);
      const record = await waitForRecord(request.requestId, delivered, 45_000);

      expect(record.status).toBe('FAILED');
      expect(record.event?.error).toMatchObject({ code: 'RetriesExhausted', kind: 'busy' });
      expect(record.event?.error?.message).toContain(code);
      expect(
        await admin.calls({ action: 'DetachInstances', scalingGroupId: group.scalingGroupId }),
      ).toHaveLength(4);
      expect(await dlqMessages(ACTION)).toEqual([]);
    },
  );

  it.concurrent('ScalingActivityInProgress waits for the running activity, then detaches', async () => {
    const group = await aScalingGroup(admin, { activityDurationMs: 1500 });
    const dispatcher = createHttpAgent();
    const ess = new EssClient({
      credentials: async () => EMULATOR_KEY,
      dispatcher,
      endpointOverride: stack.endpoints.emulator,
    });
    await ess.detachInstances({
      region: group.region,
      scalingGroupId: group.scalingGroupId,
      instanceIds: [group.instanceIds[2] as string],
    });
    await dispatcher.close();
    const request = aRequest(group);

    await send(ACTION, request);
    const busy = await waitForRecord(
      request.requestId,
      (r) => r.lastError?.code === 'ScalingActivityInProgress',
    );
    const done = await waitForRecord(request.requestId, delivered, 30_000);

    expect(busy.status).toBe('QUEUED');
    expect(done.status).toBe('SUCCEEDED');
    expect(done.lastError?.kind).toBe('busy');
  });

  it.concurrent('a 503 and a dropped answer are retried with the same ClientToken, and make one activity', async () => {
    const group = await aScalingGroup(admin);
    await admin.inject(
      {
        action: 'DetachInstances',
        scalingGroupId: group.scalingGroupId,
        error: { code: 'ServiceUnavailable', httpStatus: 503 },
      },
      // The emulator acts, then drops the connection: the ambiguous failure ClientToken exists for.
      { action: 'DetachInstances', scalingGroupId: group.scalingGroupId, drop: 'after' },
    );
    const request = aRequest(group);

    await send(ACTION, request);
    const record = await waitForRecord(request.requestId, delivered, 30_000);

    const calls = await admin.calls({ action: 'DetachInstances', scalingGroupId: group.scalingGroupId });
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
  });
});
