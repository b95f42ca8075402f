import { PutItemCommand } from '@aws-sdk/client-dynamodb';
import { describe, expect, it } from 'vitest';
import { invokeFunction } from '../local/lambda-invoker.ts';
import { groupKeyOf } from '../shared/detach/dispatch.ts';
import { aDetachRequest, aScalingGroup, uniqueId } from '../support/emulator-admin.ts';
import { stackClients } from './support/stack-clients.ts';

/**
 * What arrives on a queue always ends (issue #9, defects 10 and 12), through the local stack: fauxqs, the queue
 * bridge, the real function, DynamoDB Local.
 */
const { stack, dynamodb, send, waitForRecord, delivered, admin } = stackClients();

describe('queue edges', () => {
  it.concurrent('in one batch, a record that fails does not hold back its neighbour of the same message group; on its last delivery it ends Rejected (Unprocessable)', async () => {
    const group = await aScalingGroup(admin, { activityDurationMs: 50 });
    const poisoned = aDetachRequest(group, { instanceIds: [group.instanceIds[0]] });
    const healthy = aDetachRequest(group, { instanceIds: [group.instanceIds[1]] });
    // The poisoned request's id already holds an item the contract cannot read: handling it throws every time.
    await dynamodb.send(
      new PutItemCommand({
        TableName: stack.resources.ledgerTable,
        Item: { requestId: { S: poisoned.requestId }, status: { S: 'SOMETHING_OLD' } },
      }),
    );
    const queue = stack.queues['detach-instances'] as { queueArn: string };
    const binding = stack.resources.queues.find((q) => q.action === 'detach-instances');
    const groupId = groupKeyOf({
      provider: 'aliyun',
      region: group.region,
      scalingGroupId: group.scalingGroupId,
    });
    const record = (body: unknown, messageId: string, receiveCount: number) => ({
      messageId,
      receiptHandle: `handle-${messageId}`,
      body: JSON.stringify(body),
      attributes: { ApproximateReceiveCount: String(receiveCount), MessageGroupId: groupId },
      messageAttributes: {},
      eventSource: 'aws:sqs',
      eventSourceARN: queue.queueArn,
      awsRegion: 'eu-west-1',
    });
    const poisonedId = uniqueId('msg');
    const invoke = (receiveCount: number) =>
      invokeFunction(stack.endpoints.lambda, binding?.functionName as string, {
        Records: [record(poisoned, poisonedId, receiveCount), record(healthy, uniqueId('msg'), receiveCount)],
      });

    const first = await invoke(1);
    const healthyRecord = await waitForRecord(healthy.requestId, delivered, 30_000);
    const last = await invoke(4);
    const givenUp = await waitForRecord(`sqs:${poisonedId}`, delivered, 30_000);

    // Only the failing record is reported; its neighbour was taken onto the ledger, in the same batch.
    expect(first.payload).toEqual({ batchItemFailures: [{ itemIdentifier: poisonedId }] });
    expect(healthyRecord.status).toBe('SUCCEEDED');
    expect(last.payload).toEqual({ batchItemFailures: [] });
    expect(givenUp.event).toMatchObject({ status: 'Rejected', error: { code: 'Unprocessable' } });
  });

  it.concurrent('a body far over any size we accept ends Rejected with a ledger entry and an event, once', async () => {
    const requestId = uniqueId('req-huge');
    const huge = {
      requestId,
      provider: 'aliyun',
      region: 'cn-hangzhou',
      scalingGroupId: 'asg-huge',
      instanceIds: ['i-1'],
      ...Object.fromEntries(Array.from({ length: 4_000 }, (_, i) => [`extra${i}`, 'x'.repeat(50)])),
    };

    await send('detach-instances', huge);
    const record = await waitForRecord(requestId, delivered, 30_000);

    expect(record.status).toBe('REJECTED');
    expect(record.event?.error?.issues?.length).toBeLessThanOrEqual(21);
    expect(JSON.stringify(record.event).length).toBeLessThan(20_000);
  });
});
