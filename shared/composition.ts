import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import {
  accountCheckOf,
  accountProvidersOf,
  accountRegistryOf,
  memberAccountsOf,
  providersOf,
} from './cloud-providers.ts';
import { type Config, parseConfig } from './config.ts';
import type { CallbackDeps } from './detach/callbacks.ts';
import { leaseFor } from './detach/dispatch.ts';
import type { Clock } from './detach/ports.ts';
import { DetachError } from './errors.ts';
import { DynamoDbLedger } from './ledger/dynamodb-ledger.ts';
import { tracer } from './observability.ts';
import { createHttpAgent } from './providers/http.ts';
import { EventBridgePublisher } from './publish/eventbridge-publisher.ts';
import { callbackPolicyOf, HttpCallbackSender } from './publish/http-callback-sender.ts';
import { SqsRequestQueue } from './queue/sqs-request-queue.ts';
import { SqsRetryDelay } from './queue/sqs-retry-delay.ts';
import { type SecretPair, SecretPairSchema } from './signing/webhook-signature.ts';
import { fromParameter } from './ssm-parameters.ts';
import { type CallerKeys, CallerKeysSchema } from './webhook/callers.ts';

/**
 * The composition roots, one per kind of function: each builds only the adapters its function uses, so that
 * its bundle holds only what it reaches (the webhook has no cloud client, the recorder only the ledger). Built
 * once per process at module scope of each handler. AWS endpoints come from the SDK's own AWS_ENDPOINT_URL_*
 * variables, so no code here knows it runs locally.
 */

/** record-delivery: the ledger alone. */
export function composeRecordDelivery(env: Env = process.env) {
  const config = parseConfig(env);
  return { config, ledger: ledgerOf(config) };
}

/** dead-letter: the ledger and the bus (the DeadLettered record and event of a message its queue gave up on). */
export function composeDeadLetter(env: Env = process.env) {
  const config = parseConfig(env);
  return { config, clock, ledger: ledgerOf(config), publisher: publisherOf(config) };
}

/** webhook: the ledger, the bus (Rejected events), the request queues, the webhook's secrets and its callers. */
export function composeWebhook(env: Env = process.env) {
  const config = parseConfig(env);
  const callerKeys = callerKeysOf(config);
  return {
    config,
    clock,
    ledger: ledgerOf(config),
    publisher: publisherOf(config),
    requestQueue: new SqsRequestQueue(sqsClient(config), config.REQUEST_QUEUE_URLS ?? {}),
    webhookSecret: secretPairOf(
      config.WEBHOOK_SECRET_PARAMETER,
      config.WEBHOOK_SECRET,
      config.WEBHOOK_PREVIOUS_SECRET,
    ),
    ...accountCheckOf(accountRegistryOf(config)),
    ...(callerKeys && { callerKeys }),
  };
}

/**
 * The keyed webhook callers: from the SSM parameter (cached five minutes, like the secrets; one that does not
 * exist means none), or locally from WEBHOOK_CALLERS. Undefined: only the default caller. A value of the wrong
 * shape is a configuration fault, named without a word of the value.
 */
function callerKeysOf(config: Config): (() => Promise<CallerKeys>) | undefined {
  const parameter = config.WEBHOOK_CALLERS_PARAMETER;
  if (parameter) {
    return fromParameter(parameter, CallerKeysSchema, 'webhook callers', 'json', { callers: [] });
  }
  const local = config.WEBHOOK_CALLERS;
  if (!local) return undefined;
  return async () => {
    let value: unknown;
    try {
      value = JSON.parse(local);
    } catch {
      value = undefined;
    }
    const parsed = CallerKeysSchema.safeParse(value);
    if (!parsed.success)
      throw new DetachError('CredentialsNotConfigured', 'WEBHOOK_CALLERS has the wrong shape.', 'fatal');
    return parsed.data;
  };
}

/** pollActivities: the group dispatcher, and the callbacks it retries. */
export function composePoller(env: Env = process.env) {
  const config = parseConfig(env);
  const scheduleNextPass = nextPassOf(config);
  return { config, ...dispatcherOf(config), ...(scheduleNextPass && { scheduleNextPass }) };
}

/**
 * Sends the poller's next pass to its FIFO queue, whose delay is the interval; undefined without the queue. The
 * deduplication id is the interval slot after the pass's start, so the passes of one slot (the chain's and the
 * schedule's) send one message between them, and the chains they start merge into one.
 */
function nextPassOf(config: Config): ((passStartedAt: number) => Promise<void>) | undefined {
  const queueUrl = config.POLL_NEXT_QUEUE_URL;
  if (!queueUrl) return undefined;
  const sqs = sqsClient(config);
  const intervalMs = config.POLL_INTERVAL_SECONDS * 1000;
  return async (passStartedAt) => {
    const slot = String(Math.floor(passStartedAt / intervalMs) + 1);
    await sqs.send(
      new SendMessageCommand({
        QueueUrl: queueUrl,
        MessageBody: JSON.stringify({ slot }),
        MessageGroupId: 'poller',
        MessageDeduplicationId: slot,
      }),
    );
  };
}

/** The request functions: the group dispatcher, and the queue's visibility for a record that comes back. */
export function composeRequestFunction(env: Env = process.env) {
  const config = parseConfig(env);
  return { config, ...dispatcherOf(config), retryDelay: new SqsRetryDelay(sqsClient(config)) };
}

type Env = Record<string, string | undefined>;

const clock: Clock = { now: () => new Date() };

/**
 * The SDK's own NodeHttpHandler options: without them an attempt waits up to the 300 s socket default. A timeout
 * rejects with a `TimeoutError`, which the SDK retries (3 attempts, DynamoDB 4) and then throws, as any other
 * error the callers cannot read: a write that timed out may have applied.
 */
export const awsRequestHandler = (connectTimeoutMs: number, requestTimeoutMs: number) => ({
  requestHandler: {
    connectionTimeout: connectTimeoutMs,
    requestTimeout: requestTimeoutMs,
    // Without it a request past requestTimeout is only logged as a warning.
    throwOnRequestTimeout: true,
    // Idle socket: a server that accepts and never answers.
    socketTimeout: requestTimeoutMs,
  },
});

const ledgerOf = (config: Config) =>
  new DynamoDbLedger(
    tracer.captureAWSv3Client(
      new DynamoDBClient(awsRequestHandler(config.AWS_CONNECT_TIMEOUT_MS, config.DYNAMODB_TIMEOUT_MS)),
    ),
    config.LEDGER_TABLE,
    { retentionDays: config.RETENTION_DAYS },
  );

/**
 * A client built on its first call rather than at cold start (about 1 ms each): the bus and the queues are
 * called by some invocations only (an event at a request's end, a retry, a POST but not a GET).
 */
function builtOnFirstSend<Client extends { send: (...args: never[]) => unknown }>(
  build: () => Client,
): Client {
  let client: Client | undefined;
  const send = (...args: Parameters<Client['send']>) => {
    client ??= build();
    return client.send(...args);
  };
  // The adapters call `send` only.
  return { send } as unknown as Client;
}

const publisherOf = (config: Config) =>
  new EventBridgePublisher(
    builtOnFirstSend(() =>
      tracer.captureAWSv3Client(
        new EventBridgeClient(
          awsRequestHandler(config.AWS_CONNECT_TIMEOUT_MS, config.EVENTBRIDGE_TIMEOUT_MS),
        ),
      ),
    ),
    config.EVENT_BUS_NAME,
  );

// Queue URLs carry the host; the client's own endpoint (regional, or AWS_ENDPOINT_URL_SQS locally) is used instead.
const sqsClient = (config: Config) =>
  builtOnFirstSend(() =>
    tracer.captureAWSv3Client(
      new SQSClient({
        useQueueUrlAsEndpoint: false,
        ...awsRequestHandler(config.AWS_CONNECT_TIMEOUT_MS, config.SQS_TIMEOUT_MS),
      }),
    ),
  );

/** What dispatches a group's waiting requests and completes them: the request functions and the poller. */
function dispatcherOf(config: Config) {
  const ledger = ledgerOf(config);
  const callbacks = callbacksOf(config, ledger);
  const httpAgent = createHttpAgent({
    connectTimeoutMs: config.HTTP_CONNECT_TIMEOUT_MS,
    responseTimeoutMs: config.HTTP_RESPONSE_TIMEOUT_MS,
    connectionsPerOrigin: 32,
  });
  const registry = accountRegistryOf(config);
  return {
    clock,
    providers: providersOf(config, httpAgent),
    maxCallAttempts: config.MAX_CALL_ATTEMPTS,
    retry: { baseSeconds: config.RETRY_BASE_SECONDS, maxSeconds: config.RETRY_MAX_SECONDS },
    activityHoldMs: config.OPERATION_TIMEOUT_SECONDS * 1000,
    // A dispatcher's lease outlives one cloud call; a call without a token is resolved once it can no longer act.
    ...leaseFor({
      connectTimeoutMs: config.HTTP_CONNECT_TIMEOUT_MS,
      responseTimeoutMs: config.HTTP_RESPONSE_TIMEOUT_MS,
    }),
    ledger,
    publisher: publisherOf(config),
    ...(callbacks && { callbacks }),
    ...accountCheckOf(registry),
    ...(registry && {
      accountProviders: accountProvidersOf(config, httpAgent, memberAccountsOf(config, registry)),
    }),
  };
}

function callbacksOf(config: Config, ledger: DynamoDbLedger): CallbackDeps | undefined {
  const secret = secretPairOf(
    config.CALLBACK_SECRET_PARAMETER,
    config.CALLBACK_SECRET,
    config.CALLBACK_PREVIOUS_SECRET,
  );
  return (
    secret && {
      ledger,
      clock,
      callbacks: new HttpCallbackSender(secret, callbackPolicyOf(config), {
        connectTimeoutMs: config.HTTP_CONNECT_TIMEOUT_MS,
      }),
      callbackRetry: {
        baseSeconds: config.CALLBACK_RETRY_BASE_SECONDS,
        maxSeconds: 3600,
        maxAttempts: config.CALLBACK_MAX_ATTEMPTS,
      },
    }
  );
}

/**
 * The webhook's secrets, or the callbacks' (never the same: a callback receiver must not be able to sign webhook
 * requests). Without one, the webhook refuses everything (401) and no callback is sent.
 */
function secretPairOf(
  parameter: string | undefined,
  current: string | undefined,
  previous: string | undefined,
): (() => Promise<SecretPair>) | undefined {
  if (parameter) return fromParameter(parameter, SecretPairSchema, 'webhook or callback secret');
  if (!current) return undefined;
  const fixed: SecretPair = { current, ...(previous && { previous }) };
  return async () => fixed;
}
