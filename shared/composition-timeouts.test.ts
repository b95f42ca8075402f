import { createServer, type Server, type Socket } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { composeRecordDelivery, composeRequestFunction, composeWebhook } from './composition.ts';
import { type CompletionEvent, DetachInstancesRequest } from './contracts/index.ts';
import type { NewOperation } from './detach/ports.ts';

/**
 * Issue 17, defect 15: our own AWS clients had no request timeout (the SDK's socket default is 300 s), so one
 * hung call cost a whole invocation. Against a real TCP server that accepts every connection and never
 * answers, each client gives up with the SDK's TimeoutError after the configured time, having tried as often
 * as the SDK retries; a write that timed out is thrown (it may have applied), never taken as refused.
 */
let server: Server;
let endpoint: string;
const sockets = new Set<Socket>();
let connections = 0;

beforeAll(async () => {
  server = createServer((socket) => {
    connections += 1;
    sockets.add(socket);
    // Read what is sent, answer nothing.
    socket.on('data', () => undefined);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no port');
  endpoint = `http://127.0.0.1:${address.port}`;
});

afterAll(async () => {
  for (const socket of sockets) socket.destroy();
  await new Promise((resolve) => server.close(resolve));
});

afterEach(() => {
  vi.unstubAllEnvs();
  connections = 0;
});

const env = (overrides: Record<string, string>) => {
  // The SDK reads its endpoint, region and credentials from process.env, as in a deployed function.
  for (const [name, value] of Object.entries({
    AWS_REGION: 'eu-west-1',
    AWS_ACCESS_KEY_ID: 'test',
    AWS_SECRET_ACCESS_KEY: 'test',
    AWS_ENDPOINT_URL_DYNAMODB: endpoint,
    AWS_ENDPOINT_URL_EVENTBRIDGE: endpoint,
    AWS_ENDPOINT_URL_SQS: endpoint,
  }))
    vi.stubEnv(name, value);
  return {
    LEDGER_TABLE: 'operations',
    EVENT_BUS_NAME: 'bus',
    ALIYUN_ACCESS_KEY_ID: 'LTAI-test',
    ALIYUN_ACCESS_KEY_SECRET: 'test-secret',
    REQUEST_QUEUE_URLS: JSON.stringify({ 'detach-instances': `${endpoint}/000000000000/q.fifo` }),
    AWS_CONNECT_TIMEOUT_MS: '500',
    DYNAMODB_TIMEOUT_MS: '150',
    EVENTBRIDGE_TIMEOUT_MS: '150',
    SQS_TIMEOUT_MS: '150',
    ...overrides,
  };
};

const timedOut = { name: 'TimeoutError', message: expect.stringContaining('150 ms') };
const request = DetachInstancesRequest.parse({
  requestId: 'timeouts-1',
  provider: 'aliyun',
  region: 'cn-hangzhou',
  scalingGroupId: 'asg-timeouts',
  instanceIds: ['i-timeouts'],
});

describe('our own AWS clients time out', () => {
  it('DynamoDB: a read fails with TimeoutError after each of the SDK attempts', async () => {
    const { ledger } = composeRecordDelivery(env({}));
    const failure = await ledger.get('timeouts-1').then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(failure).toMatchObject(timedOut);
    // Each attempt timed out on its own connection: the SDK retried (DynamoDB's default is 4 attempts).
    const attempts = (failure as { $metadata: { attempts: number } }).$metadata.attempts;
    expect(attempts).toBeGreaterThan(1);
    expect(connections).toBe(attempts);
  });

  it('DynamoDB: a conditional write that timed out is thrown, not taken as "already there"', async () => {
    const { ledger } = composeRequestFunction(env({}));
    await expect(
      ledger.begin(
        {
          requestId: 'timeouts-1',
          action: 'detach-instances',
          request,
          clientToken: 'timeouts-1',
        } as NewOperation,
        new Date(),
      ),
    ).rejects.toMatchObject(timedOut);
  });

  it('EventBridge: PutEvents fails with TimeoutError', async () => {
    const { publisher } = composeWebhook(env({}));
    await expect(
      publisher.publish({ requestId: 'timeouts-1' } as unknown as CompletionEvent),
    ).rejects.toMatchObject(timedOut);
  });

  it('SQS: SendMessage fails with TimeoutError', async () => {
    const { requestQueue } = composeWebhook(env({}));
    await expect(requestQueue.enqueue('detach-instances', request)).rejects.toMatchObject(timedOut);
  });

  it('the timeouts are settings, with defaults well below a function budget', () => {
    const { DYNAMODB_TIMEOUT_MS: _dynamodb, EVENTBRIDGE_TIMEOUT_MS: _bus, ...rest } = env({});
    const { config } = composeRecordDelivery(rest);
    expect(config.DYNAMODB_TIMEOUT_MS).toBe(2000);
    expect(config.EVENTBRIDGE_TIMEOUT_MS).toBe(3000);
    expect(config.AWS_CONNECT_TIMEOUT_MS).toBe(500);
  });
});
