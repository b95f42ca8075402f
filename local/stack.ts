import { Logger } from '@aws-lambda-powertools/logger';
import { DeleteMessageCommand, ReceiveMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import type { EmulatorSeed } from '../emulator/seed.ts';
import { type CloudEmulator, DEFAULT_ADMIN_TOKEN, startEmulator } from '../emulator/server.ts';
import type { CallerKeys } from '../shared/webhook/callers.ts';
import { LOCAL_ACCOUNT_ROLES, LOCAL_ACCOUNTS } from './accounts.ts';
import type { AwsCallMeter } from './aws-call-meter.ts';
import { startHttpApi } from './http-api.ts';
import { invokeFunction } from './lambda-invoker.ts';
import type { LogForm } from './log-format.ts';
import { startOffline } from './offline.ts';
import { SERVICE, type StackResources, stackResources } from './resources.ts';
import {
  createFifoQueue,
  createLedgerTable,
  createPollNextQueue,
  freePort,
  LOCAL_AWS,
  type ProvisionedQueue,
  startDynamoDb,
  startSqs,
} from './services.ts';
import { recordOf, SqsBridge } from './sqs-bridge.ts';
import type { LocalEndpoints } from './stack-file.ts';

export interface StackPorts {
  sqs: number;
  dynamodb: number;
  emulator: number;
  /** The webhook's HTTP API (local/http-api.ts). */
  http: number;
  /** serverless-offline's own HTTP server, which nothing uses (the webhook is served on `http`). */
  offlineHttp: number;
  lambda: number;
  eventBridge: number;
  eventBridgePubSub: number;
}

export const DEFAULT_PORTS: StackPorts = {
  sqs: 4566,
  dynamodb: 8000,
  emulator: 9000,
  http: 3000,
  offlineHttp: 3001,
  lambda: 3002,
  eventBridge: 4010,
  eventBridgePubSub: 4011,
};

export interface StackOptions {
  /** Fixed ports, or free ones picked at start (tests). */
  ports?: StackPorts | 'ephemeral';
  seed?: EmulatorSeed;
  /** How often the local scheduler runs the poller; deployed, EventBridge Scheduler does. */
  pollIntervalMs?: number;
  /** Local queues' visibility timeout, which is also the retry backoff. */
  visibilityTimeoutSeconds?: number;
  logger?: Logger;
  /** SQS deliveries of a message that keeps failing before it ends Rejected (MAX_DELIVERIES). */
  maxDeliveries?: number;
  /** Throttled cloud call attempts of one intent before its requests end Failed (MAX_CALL_ATTEMPTS). */
  maxCallAttempts?: number;
  /** Age at which an unfinished operation ends TimedOut (OPERATION_TIMEOUT_SECONDS). */
  operationTimeoutSeconds?: number;
  /** Show the functions' logs (npm start). */
  echoFunctionLogs?: boolean;
  /** How they are shown: one compact line each (default), or their JSON as deployed stages log it. */
  logForm?: LogForm;
  /**
   * Count every call the functions make (bench P6): the functions reach DynamoDB, SQS and EventBridge, and the
   * queue bridge, scheduler and HTTP API reach the functions, through this meter's proxies.
   */
  meter?: AwsCallMeter;
  /**
   * Short poller passes as deployed (serverless.yml PollNextQueue): a pass that leaves work open sends the next
   * one to the next-pass queue, which the scheduler delivers. Off by default: the tests' scheduler passes every
   * 500 ms, and the chain's extra passes change the timing their merged-call counts were written for.
   */
  shortPasses?: boolean;
}

/** The local stage's webhook secret (serverless.yml `params.local`); never a deployed one. */
export const LOCAL_WEBHOOK_SECRET = 'local-webhook-secret-do-not-use-in-prod';

/**
 * The local stage's keyed webhook callers (docs/accounts.md "Caller keys"): `local-team-a` may act on the account
 * `shop-dev` only (not the deployment's own). `npm run detach -- --key-id local-team-a ...` signs with its secret.
 */
export const LOCAL_WEBHOOK_CALLERS: CallerKeys = {
  callers: [
    {
      keyId: 'local-team-a',
      secret: 'local-team-a-caller-secret-do-not-use-in-prod',
      accounts: ['shop-dev'],
    },
  ],
};

/** The secret of a local caller's key id, or undefined if the local stage has no such key. */
export const localCallerSecret = (keyId: string): string | undefined =>
  LOCAL_WEBHOOK_CALLERS.callers.find((caller) => caller.keyId === keyId)?.secret;

/** What tests and people need to talk to a running local stack. */
export interface StackInfo {
  webhookSecret: string;
  resources: StackResources;
  endpoints: LocalEndpoints;
  queues: Record<string, ProvisionedQueue>;
  aws: typeof LOCAL_AWS;
}

export interface RunningStack extends StackInfo {
  ports: StackPorts;
  /** With `meter`: the proxies' URLs, for callers whose calls count too (a producer's SendMessage). */
  metered?: { sqs: string; dynamodb: string; eventBridge: string; lambda: string };
  emulator: CloudEmulator;
  stop(): Promise<void>;
}

async function pickPorts(option: StackOptions['ports']): Promise<StackPorts> {
  if (option && option !== 'ephemeral') return option;
  if (!option) return DEFAULT_PORTS;
  const entries = await Promise.all(
    Object.keys(DEFAULT_PORTS).map(async (key) => [key, await freePort()] as const),
  );
  return Object.fromEntries(entries) as unknown as StackPorts;
}

/**
 * Starts, on 127.0.0.1: fauxqs, DynamoDB Local (which listens on every interface: it has no bind option), the
 * cloud emulator, serverless-offline with the EventBridge emulator, the webhook's HTTP API; creates the queues
 * and the table; bridges the queues to the functions; runs the poller on a timer.
 * Whatever it started it stops, in reverse order, also when a later step fails.
 */
export async function startStack(options: StackOptions = {}): Promise<RunningStack> {
  const logger = options.logger ?? new Logger({ serviceName: 'local-stack' });
  const ports = await pickPorts(options.ports);
  const resources = stackResources('local');
  const stops: (() => Promise<void>)[] = [];
  const stopAll = async () => {
    for (const stop of stops.reverse()) await stop().catch((error) => logger.warn('stop failed', { error }));
    stops.length = 0;
  };
  try {
    const sqs = await startSqs(ports.sqs);
    stops.push(sqs.stop);
    const dynamodb = await startDynamoDb(ports.dynamodb);
    stops.push(dynamodb.stop);
    const emulator = await startEmulator({
      port: ports.emulator,
      // The emulator's admin routes want it (x-emulator-admin-token); support/emulator-admin.ts sends it.
      adminToken: DEFAULT_ADMIN_TOKEN,
      ...(options.seed && { seed: options.seed }),
    });
    stops.push(() => emulator.close());
    emulator.sts.addRoles(LOCAL_ACCOUNT_ROLES);

    await createLedgerTable(dynamodb.url, resources.ledgerTable);
    const queues: Record<string, ProvisionedQueue> = {};
    for (const binding of resources.queues) {
      queues[binding.action] = await createFifoQueue(sqs.url, binding, options.visibilityTimeoutSeconds ?? 5);
    }

    // serverless.yml PollNextQueue: its delay the interval (POLL_INTERVAL_SECONDS, 5) less a second.
    const pollNext = options.shortPasses
      ? await createPollNextQueue(sqs.url, `${SERVICE}-${resources.stage}-poll-next.fifo`, 4)
      : undefined;
    const eventBridgeUrl = `http://127.0.0.1:${ports.eventBridge}`;
    const meter = options.meter;
    const metered = meter && {
      sqs: await meter.front('sqs', sqs.url),
      dynamodb: await meter.front('dynamodb', dynamodb.url),
      eventBridge: await meter.front('eventbridge', eventBridgeUrl),
      lambda: await meter.front('lambda', `http://127.0.0.1:${ports.lambda}`),
    };
    if (meter) stops.push(() => meter.close());
    const offline = await startOffline({
      httpPort: ports.offlineHttp,
      lambdaPort: ports.lambda,
      eventBridgePort: ports.eventBridge,
      eventBridgePubSubPort: ports.eventBridgePubSub,
      env: {
        AWS_REGION: LOCAL_AWS.region,
        AWS_ACCESS_KEY_ID: LOCAL_AWS.credentials.accessKeyId,
        AWS_SECRET_ACCESS_KEY: LOCAL_AWS.credentials.secretAccessKey,
        AWS_ENDPOINT_URL_SQS: metered?.sqs ?? sqs.url,
        AWS_ENDPOINT_URL_DYNAMODB: metered?.dynamodb ?? dynamodb.url,
        AWS_ENDPOINT_URL_EVENTBRIDGE: metered?.eventBridge ?? eventBridgeUrl,
        ESS_ENDPOINT: emulator.url,
        TENCENT_AS_ENDPOINT: emulator.url,
        TENCENT_V2_ENDPOINT: emulator.url,
        // The member accounts (docs/accounts.md): their roles are assumed through the emulator's STS.
        ACCOUNTS: JSON.stringify(LOCAL_ACCOUNTS),
        ALIYUN_STS_ENDPOINT: emulator.url,
        TENCENT_STS_ENDPOINT: emulator.url,
        ...(pollNext && { POLL_NEXT_QUEUE_URL: pollNext.queueUrl }),
        MAX_DELIVERIES: String(options.maxDeliveries ?? 8),
        MAX_CALL_ATTEMPTS: String(options.maxCallAttempts ?? 8),
        OPERATION_TIMEOUT_SECONDS: String(options.operationTimeoutSeconds ?? 3600),
        WEBHOOK_SECRET: LOCAL_WEBHOOK_SECRET,
        WEBHOOK_CALLERS: JSON.stringify(LOCAL_WEBHOOK_CALLERS),
        REQUEST_QUEUE_URLS: JSON.stringify(
          Object.fromEntries(Object.entries(queues).map(([action, q]) => [action, q.queueUrl])),
        ),
      },
      echo: options.echoFunctionLogs ?? false,
      ...(options.logForm && { logForm: options.logForm }),
    });
    stops.push(offline.stop);
    const lambdaUrl = metered?.lambda ?? offline.lambdaUrl;

    const httpApi = await startHttpApi({
      port: ports.http,
      lambdaUrl,
      functionName: resources.webhookFunctionName,
    });
    stops.push(httpApi.stop);

    // The bridge's own receives stay off the meter: its empty long polls are the event source's, not a request's.
    const bridge = new SqsBridge(sqs.url, lambdaUrl, logger);
    bridge.start(
      resources.queues.flatMap((binding) => {
        const queue = queues[binding.action] as ProvisionedQueue;
        // Each DLQ is a source of the dead-letter function, as deployed; its ARN is the queue's, renamed.
        const deadLetterQueueArn = `${queue.queueArn.slice(0, queue.queueArn.lastIndexOf(':') + 1)}${binding.deadLetterQueueName}`;
        return [
          { queueUrl: queue.queueUrl, queueArn: queue.queueArn, functionName: binding.functionName },
          {
            queueUrl: queue.deadLetterQueueUrl,
            queueArn: deadLetterQueueArn,
            functionName: resources.deadLetterFunctionName,
          },
        ];
      }),
    );
    stops.push(() => bridge.stop());

    const scheduler = startScheduler(
      lambdaUrl,
      resources.pollFunctionName,
      options.pollIntervalMs ?? 2000,
      logger,
      pollNext && { sqsUrl: sqs.url, ...pollNext },
    );
    stops.push(scheduler);

    return {
      webhookSecret: LOCAL_WEBHOOK_SECRET,
      resources,
      endpoints: {
        sqs: sqs.url,
        dynamodb: dynamodb.url,
        eventBridge: eventBridgeUrl,
        emulator: emulator.url,
        lambda: offline.lambdaUrl,
        http: httpApi.url,
      },
      queues,
      aws: LOCAL_AWS,
      ports,
      emulator,
      ...(metered && { metered }),
      stop: stopAll,
    };
  } catch (error) {
    await stopAll();
    throw error;
  }
}

/**
 * Runs the poller as the schedule and the next-pass queue do deployed: every `intervalMs` (the schedule), and
 * whenever a pass's next-pass message comes due. One loop makes every invocation, so one pass runs at a time,
 * as the deployed function's reserved concurrency of 1 holds it.
 */
function startScheduler(
  lambdaUrl: string,
  functionName: string,
  intervalMs: number,
  logger: Logger,
  next: { sqsUrl: string; queueUrl: string; queueArn: string } | undefined,
): () => Promise<void> {
  if (!next) return startTimer(lambdaUrl, functionName, intervalMs, logger);
  let running = true;
  const sqs = new SQSClient({ ...LOCAL_AWS, endpoint: next.sqsUrl });
  const loop = (async () => {
    let due = Date.now();
    while (running) {
      const waitMs = due - Date.now();
      const { Messages } = await sqs
        .send(
          new ReceiveMessageCommand({
            QueueUrl: next.queueUrl,
            MaxNumberOfMessages: 1,
            WaitTimeSeconds: Math.max(0, Math.min(20, Math.floor(waitMs / 1000))),
            MessageSystemAttributeNames: ['All'],
          }),
        )
        .catch(() => ({ Messages: undefined }));
      const message = Messages?.[0];
      if (!message && Date.now() < due) {
        await new Promise((resolve) => setTimeout(resolve, Math.min(200, due - Date.now())));
        continue;
      }
      if (!running) break;
      const event = message ? { Records: [recordOf(message, next.queueArn)] } : {};
      const result = await invokeFunction(lambdaUrl, functionName, event).catch((error: unknown) => ({
        functionError: String(error),
        payload: undefined,
      }));
      if (result.functionError)
        logger.warn('scheduled poll failed', { error: result.payload ?? result.functionError });
      if (message)
        await sqs
          .send(
            new DeleteMessageCommand({
              QueueUrl: next.queueUrl,
              ReceiptHandle: message.ReceiptHandle as string,
            }),
          )
          .catch(() => undefined);
      // The timer counts from the last pass, whatever started it: passes never come closer than before.
      due = Date.now() + intervalMs;
    }
  })();
  return async () => {
    running = false;
    await loop;
    sqs.destroy();
  };
}

/** Runs the poller every `intervalMs`, one pass at a time, as a schedule would (no next-pass queue). */
function startTimer(
  lambdaUrl: string,
  functionName: string,
  intervalMs: number,
  logger: Logger,
): () => Promise<void> {
  let running = true;
  const loop = (async () => {
    while (running) {
      const result = await invokeFunction(lambdaUrl, functionName, {}).catch((error: unknown) => ({
        functionError: String(error),
        payload: undefined,
      }));
      if (result.functionError)
        logger.warn('scheduled poll failed', { error: result.payload ?? result.functionError });
      await new Promise((resolve) => setTimeout(resolve, intervalMs));
    }
  })();
  return async () => {
    running = false;
    await loop;
  };
}
