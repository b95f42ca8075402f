import { SendMessageCommand } from '@aws-sdk/client-sqs';
import { describe, expect, it } from 'vitest';
import { uniqueId } from '../support/emulator-admin.ts';
import { stackClients } from './support/stack-clients.ts';
import { webhookClient } from './support/webhook-client.ts';

/**
 * The defects of issue #17 on the way in, through the local stack: fauxqs, the queue bridge, the real functions,
 * the webhook's HTTP API, DynamoDB Local.
 */
const { stack, sqs, ledger, send, waitForRecord, delivered } = stackClients();
const webhook = webhookClient(stack.endpoints.http, stack.webhookSecret);
const aRequest = (overrides: Record<string, unknown> = {}) => ({
  requestId: uniqueId('req'),
  provider: 'aliyun',
  region: 'cn-hangzhou',
  scalingGroupId: uniqueId('asg'),
  instanceIds: ['i-1'],
  ...overrides,
});

describe('issue #17 on the local stack', () => {
  it.concurrent('13: a 450 KB callbackUrl SQS accepts ends Rejected on its first delivery, naming the field', async () => {
    const request = aRequest({ callbackUrl: `https://callbacks.example.com/${'x'.repeat(450_000)}` });

    await send('detach-instances', request);
    const record = await waitForRecord(request.requestId, delivered, 30_000);

    expect(record.status).toBe('REJECTED');
    expect(record.attempts).toBe(1);
    expect(record.event?.error).toMatchObject({
      code: 'InvalidRequest',
      issues: [{ path: 'callbackUrl', message: 'must be at most 2048 characters' }],
    });
  });

  it.concurrent('13: the webhook refuses a callbackUrl over 2,048 characters with 422, naming the field', async () => {
    const request = aRequest({ callbackUrl: `https://callbacks.example.com/${'x'.repeat(3_000)}` });

    const answer = await webhook.post('detach-instances', request);

    expect(answer.status).toBe(422);
    expect(answer.body).toMatchObject({
      error: {
        code: 'InvalidRequest',
        requestId: request.requestId,
        issues: [{ path: 'callbackUrl', message: 'must be at most 2048 characters' }],
      },
    });
  });

  it.concurrent('11: the webhook answers 409 RequestIdConflict naming the first action and group, never its body', async () => {
    const first = { ...aRequest(), callbackUrl: 'http://127.0.0.1:9/secret-path' };
    const { requestId, ...rest } = first;

    const accepted = await webhook.post('detach-instances', first);
    // The same request, keys in another order and a default written out: not a conflict.
    const repeated = await webhook.post('detach-instances', { dryRun: false, ...rest, requestId });
    const otherGroup = await webhook.post('detach-instances', { ...first, scalingGroupId: 'asg-other' });
    const otherAction = await webhook.post('remove-instances', first);

    expect(accepted.status).toBe(202);
    expect(repeated.status).toBe(202);
    for (const answer of [otherGroup, otherAction]) {
      expect(answer.status).toBe(409);
      expect(answer.body).toEqual({
        error: {
          code: 'RequestIdConflict',
          message: expect.stringContaining(first.scalingGroupId),
          requestId,
          heldBy: {
            action: 'detach-instances',
            provider: 'aliyun',
            region: 'cn-hangzhou',
            scalingGroupId: first.scalingGroupId,
          },
        },
      });
      expect(JSON.stringify(answer.body)).not.toContain('secret-path');
    }
    expect((await webhook.status(requestId)).body).toMatchObject({
      request: { callbackUrl: first.callbackUrl },
    });
  });

  it.concurrent('11: on the queue, another body under a known id ends Rejected (RequestIdConflict) under its message id, with its event through the bus', async () => {
    const first = aRequest();
    await send('detach-instances', first);
    const before = await waitForRecord(first.requestId, delivered, 30_000);

    // Past the FIFO deduplication window (another deduplication id), as a producer reusing an id would be.
    const messageId = await send(
      'detach-instances',
      { ...first, instanceIds: ['i-2'] },
      { deduplicationId: uniqueId('dedup') },
    );
    const conflict = await waitForRecord(`sqs:${messageId}`, delivered, 30_000);

    expect(conflict.event).toMatchObject({
      status: 'Rejected',
      error: { code: 'RequestIdConflict', issues: [{ path: 'requestId' }] },
    });
    const after = await waitForRecord(first.requestId, () => true);
    expect(after.event).toEqual(before.event);
    expect(after.request).toEqual(before.request);
  });

  /** A message as a queue's redrive moves it into the action's DLQ, in one message group of the test's own. */
  const toDeadLetterQueue = async (action: string, body: string, groupId: string) => {
    const { MessageId } = await sqs.send(
      new SendMessageCommand({
        QueueUrl: stack.queues[action]?.deadLetterQueueUrl,
        MessageBody: body,
        MessageGroupId: groupId,
        MessageDeduplicationId: uniqueId('dedup'),
      }),
    );
    return MessageId as string;
  };

  it.concurrent('7: a request that reached its DLQ unrecorded ends DeadLettered, with its record and event', async () => {
    const request = aRequest();

    await toDeadLetterQueue('remove-instances', JSON.stringify(request), uniqueId('group'));
    const record = await waitForRecord(request.requestId, delivered, 30_000);

    expect(record).toMatchObject({ status: 'DEAD_LETTERED', action: 'remove-instances' });
    expect(record.event).toMatchObject({
      status: 'DeadLettered',
      action: 'remove-instances',
      scalingGroupId: request.scalingGroupId,
      instanceIds: request.instanceIds,
      error: { code: 'DeadLettered' },
    });
  });

  it.concurrent('7: a dead letter whose request is on the ledger changes nothing; one without a request id ends under its message id', async () => {
    const request = aRequest();
    await send('detach-instances', request);
    const before = await waitForRecord(request.requestId, delivered, 30_000);
    const groupId = uniqueId('group');

    await toDeadLetterQueue('detach-instances', JSON.stringify(request), groupId);
    // After it in its message group, so handled after it.
    const markerId = await toDeadLetterQueue('detach-instances', 'not json', groupId);
    const marker = await waitForRecord(`sqs:${markerId}`, delivered, 30_000);

    expect(marker.event).toMatchObject({ status: 'DeadLettered', error: { code: 'DeadLettered' } });
    const after = await ledger.get(request.requestId);
    expect(after?.status).toBe(before.status);
    expect(after?.event).toEqual(before.event);
  });
});
