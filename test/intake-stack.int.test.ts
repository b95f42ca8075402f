import { describe, expect, it } from 'vitest';
import { uniqueId } from './support/emulator-admin.ts';
import { stackClients } from './support/stack-clients.ts';
import { webhookClient } from './support/webhook-client.ts';

/**
 * The defects of issue #17 on the way in, through the local stack: fauxqs, the queue bridge, the real functions,
 * the webhook's HTTP API, DynamoDB Local.
 */
const { stack, send, waitForRecord, delivered, dlqMessages } = stackClients();
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
    expect(await dlqMessages('detach-instances')).toEqual([]);
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
});
