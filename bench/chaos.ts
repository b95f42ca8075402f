/**
 * `npm run chaos [-- --requests 600]` (not part of `npm test`): requests of every action over ESS and Tencent
 * scaling groups, through the queues and the webhook, with faults everywhere the service depends on:
 *
 * - the clouds (the emulator's chaos): throttling, 5xx, connections dropped before and after acting, slow answers;
 * - one action refused persistently for a phase of the run (`--refuse`, `--refuse-seconds`);
 * - DynamoDB, through local/dynamodb-fault-proxy.ts: throttling, 500s, hung calls, and writes applied whose
 *   answer is lost or never comes;
 * - EventBridge: the bus stand-in answers a share of PutEvents with 500, with a failed entry, or never;
 * - Lambda's timeout: each invocation has a deadline, and one past it kills its process (bench/chaos-worker.ts);
 * - processes killed (SIGKILL) mid-run and restarted.
 *
 * Every outcome is judged against the emulator's record (its state and its call log: what the cloud did),
 * never against the service's own ledger. Writes RELIABILITY.md.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import {
  DeleteMessageBatchCommand,
  ReceiveMessageCommand,
  SendMessageCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import { DynamoDBDocumentClient, ScanCommand } from '@aws-sdk/lib-dynamodb';
import { request } from 'undici';
import { EmulatorSeed } from '../emulator/seed.ts';
import { ADMIN_TOKEN_HEADER, DEFAULT_ADMIN_TOKEN, startEmulator } from '../emulator/server.ts';
import { DYNAMODB_FAULTS, startDynamoDbFaultProxy } from '../local/dynamodb-fault-proxy.ts';
import {
  createFifoQueue,
  createLedgerTable,
  freePort,
  LOCAL_AWS,
  startDynamoDb,
  startSqs,
} from '../local/services.ts';
import { isTerminal, LEDGER_STATUS_OF } from '../shared/detach/completion.ts';
import { groupKeyOf } from '../shared/detach/dispatch.ts';
import type { LedgerStatus } from '../shared/detach/ports.ts';
import { SIGNATURE_HEADER, signatureHeader } from '../shared/signing/webhook-signature.ts';

/** The emulator's admin API wants its token (the local stack's default). */
const ADMIN = { [ADMIN_TOKEN_HEADER]: DEFAULT_ADMIN_TOKEN };

const { values: args } = parseArgs({
  options: {
    requests: { type: 'string', default: '2000' },
    groups: { type: 'string' },
    seed: { type: 'string', default: '20261123' },
    'deadline-minutes': { type: 'string', default: '20' },
    // Above one lease (31 s with the HTTP timeouts below): a request function starts a record only while a whole
    // dispatch still fits (functions/sqs-request-handler.ts), as deployed (90 s).
    'function-timeout': { type: 'string', default: '40' },
    'poller-timeout': { type: 'string', default: '15' },
    refuse: { type: 'string', default: 'RemoveInstances,DescribeScalingActivities' },
    'refuse-seconds': { type: 'string', default: '40' },
    output: { type: 'string', default: 'RELIABILITY.md' },
  },
});
const REQUESTS = Number(args.requests);
// Two groups per 80 requests (as many ESS as Tencent), at most 50.
const GROUPS = Number(args.groups ?? Math.min(50, Math.max(2, 2 * Math.round(REQUESTS / 80))));
const PER_GROUP = Math.ceil(REQUESTS / GROUPS);
const SEED = Number(args.seed);
const DEADLINE_MS = Number(args['deadline-minutes']) * 60_000;
const FUNCTION_TIMEOUT_S = Number(args['function-timeout']);
const POLLER_TIMEOUT_S = Number(args['poller-timeout']);
const REFUSED_ACTIONS = (args.refuse ?? '').split(',').filter((a) => a !== '');
const REFUSE_MS = Number(args['refuse-seconds']) * 1000;
/** The persistent refusal's code: a throttling code of its own, so that its calls are counted apart. */
const REFUSAL_CODE = 'Throttling.Api';
const WEBHOOK_SHARE = 0.2;
const DUPLICATE_SHARE = 0.05;
const SECRET = 'chaos-webhook-secret-not-a-real-one';
const EMULATOR_KEY = { accessKeyId: 'LTAI-emulator-key', accessKeySecret: 'emulator-secret' };
const TENCENT_KEY = { secretId: 'AKIDemulatorTencentKey', secretKey: 'emulator-tencent-secret' };
const FUNCTION_TIMED_OUT = 124;

const CLOUD_RATES = { throttle: 0.1, serverError: 0.05, dropBefore: 0.02, dropAfter: 0.02, slow: 0.02 };
const CLOUD_SLOW_MS = 4_000;
const DYNAMODB_RATES = {
  throughput: 0.02,
  throttling: 0.01,
  serverError: 0.01,
  hang: 0.003,
  dropAfter: 0.005,
  hangAfter: 0.003,
};
const BUS_RATES = { serverError: 0.05, failedEntry: 0.03, hang: 0.01 };

const started = Date.now();
const log = (message: string) =>
  process.stdout.write(`[${((Date.now() - started) / 1000).toFixed(0)} s] ${message}\n`);
const stops: (() => Promise<unknown>)[] = [];

/** mulberry32, for the bus's faults. */
function seeded(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

type BusEvent = { requestId: string; eventId: string; status: string };

/**
 * A stand-in for the bus: it records what it accepted, so events per request are counted by id. A share of
 * PutEvents calls fails: 500 (nothing accepted), a failed entry (200, FailedEntryCount 1), or no answer at all
 * (accepted, the answer never comes: the service's client times out and publishes again).
 */
async function startBus(port: number) {
  const events: BusEvent[] = [];
  const injected = { serverError: 0, failedEntry: 0, hang: 0 };
  const faulted: { at: number; fault: string; requestIds: string[] }[] = [];
  let calls = 0;
  const random = seeded(SEED + 1);
  const server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { Entries: { Detail: string }[] };
    const details = body.Entries.map((entry) => JSON.parse(entry.Detail) as BusEvent);
    calls += 1;
    const u = random();
    const fault =
      u < BUS_RATES.serverError
        ? 'serverError'
        : u < BUS_RATES.serverError + BUS_RATES.failedEntry
          ? 'failedEntry'
          : u < BUS_RATES.serverError + BUS_RATES.failedEntry + BUS_RATES.hang
            ? 'hang'
            : undefined;
    if (fault) {
      injected[fault] += 1;
      faulted.push({ at: Date.now(), fault, requestIds: details.map((d) => d.requestId) });
    }
    if (fault === 'serverError') {
      res
        .writeHead(500, { 'content-type': 'application/x-amz-json-1.1' })
        .end(JSON.stringify({ __type: 'InternalException', message: 'Internal service error' }));
      return;
    }
    if (fault === 'failedEntry') {
      res.writeHead(200, { 'content-type': 'application/x-amz-json-1.1' }).end(
        JSON.stringify({
          FailedEntryCount: details.length,
          Entries: details.map(() => ({ ErrorCode: 'InternalFailure', ErrorMessage: 'Internal failure' })),
        }),
      );
      return;
    }
    for (const detail of details)
      events.push({ requestId: detail.requestId, eventId: detail.eventId, status: detail.status });
    if (fault === 'hang') return;
    res.writeHead(200, { 'content-type': 'application/x-amz-json-1.1' }).end(
      JSON.stringify({
        FailedEntryCount: 0,
        Entries: details.map(() => ({ EventId: randomBytes(8).toString('hex') })),
      }),
    );
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  stops.push(
    () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(resolve);
      }),
  );
  return { events, injected, faulted, calls: () => calls };
}

type Action = 'detach-instances' | 'remove-instances' | 'detach-vserver-groups' | 'detach-alb-server-groups';
const ACTIONS: Action[] = [
  'detach-instances',
  'remove-instances',
  'detach-vserver-groups',
  'detach-alb-server-groups',
];

/** One request of the run, and what the emulator must show once it ended. */
interface Planned {
  requestId: string;
  action: Action;
  /** The row of RELIABILITY.md's table. */
  kind: string;
  provider: 'aliyun' | 'tencent';
  scalingGroupId: string;
  /** Instances, or server group ids, that this request alone names. */
  targets: string[];
  body: Record<string, unknown>;
}

function plan(): { requests: Planned[]; seed: EmulatorSeed } {
  const requests: Planned[] = [];
  const ess: EmulatorSeed['aliyun'] = { scalingGroups: [], instances: [] };
  const tencent: EmulatorSeed['tencent'] = { groups: [], instances: [] };
  for (let g = 0; g < GROUPS; g++) {
    const provider = g % 2 === 0 ? 'aliyun' : 'tencent';
    const scalingGroupId = provider === 'aliyun' ? `asg-chaos-${g}` : `asg-chaos${g}`;
    const region = provider === 'aliyun' ? 'cn-hangzhou' : 'ap-guangzhou';
    const vServerGroups: { loadBalancerId: string; vServerGroupId: string; port: number }[] = [];
    const albServerGroups: { albServerGroupId: string; port: number }[] = [];
    for (let i = 0; i < PER_GROUP && requests.length < REQUESTS; i++) {
      const requestId = `chaos-${g}-${i}`;
      const base = { requestId, provider, region, scalingGroupId, preflight: (g + i) % 3 !== 0 };
      if (provider === 'aliyun') {
        const kind = i % 5;
        if (kind === 1 || kind === 2) {
          const { preflight: _preflight, ...groupBase } = base;
          if (kind === 1) {
            const group = {
              loadBalancerId: `lb-chaos-${g}`,
              vServerGroupId: `rsp-chaos-${g}-${i}`,
              port: 1000 + i,
            };
            vServerGroups.push(group);
            requests.push({
              requestId,
              action: 'detach-vserver-groups',
              kind: 'ESS DetachVServerGroups',
              provider,
              scalingGroupId,
              targets: [group.vServerGroupId],
              body: {
                ...groupBase,
                vServerGroups: [
                  {
                    loadBalancerId: group.loadBalancerId,
                    vServerGroupAttributes: [{ vServerGroupId: group.vServerGroupId, port: group.port }],
                  },
                ],
              },
            });
          } else {
            const group = { albServerGroupId: `sgp-chaos-${g}-${i}`, port: 2000 + i };
            albServerGroups.push(group);
            const forceDetach = i % 2 === 0;
            requests.push({
              requestId,
              action: 'detach-alb-server-groups',
              kind: `ESS DetachAlbServerGroups${forceDetach ? ' (ForceDetach)' : ''}`,
              provider,
              scalingGroupId,
              targets: [group.albServerGroupId],
              body: { ...groupBase, albServerGroups: [group], forceDetach },
            });
          }
          continue;
        }
        const instanceId = `i-chaos-${g}-${i}`;
        ess.instances.push({ instanceId, scalingGroupId } as EmulatorSeed['aliyun']['instances'][number]);
        const remove = kind === 0;
        requests.push({
          requestId,
          action: remove ? 'remove-instances' : 'detach-instances',
          kind: remove ? 'ESS RemoveInstances' : 'ESS DetachInstances',
          provider,
          scalingGroupId,
          targets: [instanceId],
          body: { ...base, instanceIds: [instanceId] },
        });
      } else {
        const instanceId = `ins-chaos${g}x${i}`;
        tencent.instances.push({
          instanceId,
          autoScalingGroupId: scalingGroupId,
        } as EmulatorSeed['tencent']['instances'][number]);
        const kind = i % 4;
        const action = kind === 0 ? 'remove-instances' : 'detach-instances';
        requests.push({
          requestId,
          action,
          kind:
            kind === 0
              ? 'Tencent RemoveInstances (API 3.0)'
              : kind === 1
                ? 'Tencent DetachInstance (v2)'
                : 'Tencent DetachInstances (API 3.0)',
          provider,
          scalingGroupId,
          targets: [instanceId],
          body: {
            ...base,
            instanceIds: [instanceId],
            ...(kind === 1 && { apiVersion: 'v2', keepInstance: 1 }),
          },
        });
      }
    }
    if (provider === 'aliyun')
      ess.scalingGroups.push({
        scalingGroupId,
        regionId: region,
        minSize: 0,
        maxSize: 1000,
        activityDurationMs: 300,
        vServerGroups,
        albServerGroups,
      } as unknown as EmulatorSeed['aliyun']['scalingGroups'][number]);
    else
      tencent.groups.push({
        autoScalingGroupId: scalingGroupId,
        region,
        minSize: 0,
        maxSize: 1000,
        activityDurationMs: 300,
      } as EmulatorSeed['tencent']['groups'][number]);
  }
  return { requests, seed: EmulatorSeed.parse({ aliyun: ess, tencent }) };
}

/** Runs one role of bench/chaos-worker.ts, and starts it again whenever it dies, until the run stops. */
class Workers {
  readonly #processes = new Map<string, ChildProcess>();
  readonly timedOut: { role: string; at: number }[] = [];
  readonly killed: { role: string; at: number }[] = [];
  readonly crashed: { role: string; at: number; code: number | null }[] = [];
  #stopping = false;

  constructor(private readonly env: Record<string, string>) {}

  start(role: string): void {
    const child = spawn(process.execPath, ['--import', 'tsx', 'bench/chaos-worker.ts', role], {
      env: { ...process.env, ...this.env },
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    this.#processes.set(role, child);
    child.on('exit', (code, signal) => {
      if (this.#stopping) return;
      if (code === FUNCTION_TIMED_OUT) this.timedOut.push({ role, at: Date.now() });
      else if (signal !== 'SIGKILL') this.crashed.push({ role, at: Date.now(), code });
      // A timed-out function's next invocation gets a fresh environment at once; a killed one after 2 s.
      setTimeout(() => this.#stopping || this.start(role), signal === 'SIGKILL' ? 2_000 : 200);
    });
  }

  kill(role: string): void {
    this.killed.push({ role, at: Date.now() });
    this.#processes.get(role)?.kill('SIGKILL');
  }

  stop(): void {
    this.#stopping = true;
    for (const child of this.#processes.values()) child.kill('SIGKILL');
  }
}

async function main() {
  const [sqsPort, dynamoPort, busPort, webhookPort] = await Promise.all([
    freePort(),
    freePort(),
    freePort(),
    freePort(),
  ]);
  const sqs = await startSqs(sqsPort);
  stops.push(sqs.stop);
  const dynamodb = await startDynamoDb(dynamoPort);
  stops.push(dynamodb.stop);
  const proxy = await startDynamoDbFaultProxy({ target: dynamodb.url });
  stops.push(() => proxy.close());
  const emulator = await startEmulator({ port: 0 });
  stops.push(() => emulator.close());
  const bus = await startBus(busPort);
  const table = 'chaos-operations';
  await createLedgerTable(dynamodb.url, table);
  // Lambda wants a visibility timeout of at least the function's timeout.
  const visibility = FUNCTION_TIMEOUT_S * 2;
  const queues = Object.fromEntries(
    await Promise.all(
      ACTIONS.map(
        async (action) =>
          [
            action,
            await createFifoQueue(
              sqs.url,
              {
                queueName: `chaos-${action}.fifo`,
                deadLetterQueueName: `chaos-${action}-dlq.fifo`,
                maxReceiveCount: 10,
              },
              visibility,
            ),
          ] as const,
      ),
    ),
  ) as Record<Action, Awaited<ReturnType<typeof createFifoQueue>>>;

  const { requests: all, seed } = plan();
  await request(`${emulator.url}/admin/seed/add`, {
    method: 'POST',
    headers: ADMIN,
    body: JSON.stringify(seed),
  }).then((r) => r.body.dump());
  await request(`${emulator.url}/admin/chaos`, {
    headers: ADMIN,
    method: 'POST',
    body: JSON.stringify({ seed: SEED, rates: CLOUD_RATES, slowMs: CLOUD_SLOW_MS }),
  }).then((r) => r.body.dump());

  const env = {
    AWS_REGION: LOCAL_AWS.region,
    AWS_ACCESS_KEY_ID: 'local',
    AWS_SECRET_ACCESS_KEY: 'local',
    AWS_ENDPOINT_URL_SQS: sqs.url,
    AWS_ENDPOINT_URL_DYNAMODB: proxy.url,
    AWS_ENDPOINT_URL_EVENTBRIDGE: `http://127.0.0.1:${busPort}`,
    LEDGER_TABLE: table,
    EVENT_BUS_NAME: 'chaos',
    ALIYUN_ACCESS_KEY_ID: EMULATOR_KEY.accessKeyId,
    ALIYUN_ACCESS_KEY_SECRET: EMULATOR_KEY.accessKeySecret,
    TENCENT_SECRET_ID: TENCENT_KEY.secretId,
    TENCENT_SECRET_KEY: TENCENT_KEY.secretKey,
    ESS_ENDPOINT: emulator.url,
    TENCENT_AS_ENDPOINT: emulator.url,
    TENCENT_V2_ENDPOINT: emulator.url,
    WEBHOOK_SECRET: SECRET,
    REQUEST_QUEUE_URLS: JSON.stringify(
      Object.fromEntries(Object.entries(queues).map(([a, q]) => [a, q.queueUrl])),
    ),
    CHAOS_QUEUE_ARNS: JSON.stringify(
      Object.fromEntries(Object.entries(queues).map(([a, q]) => [a, q.queueArn])),
    ),
    CHAOS_WEBHOOK_PORT: String(webhookPort),
    CHAOS_FUNCTION_TIMEOUT_MS: String(FUNCTION_TIMEOUT_S * 1000),
    CHAOS_POLLER_TIMEOUT_MS: String(POLLER_TIMEOUT_S * 1000),
    MAX_DELIVERIES: '8',
    MAX_CALL_ATTEMPTS: '8',
    RETRY_BASE_SECONDS: '1',
    RETRY_MAX_SECONDS: '5',
    OPERATION_TIMEOUT_SECONDS: '900',
    HTTP_CONNECT_TIMEOUT_MS: '1000',
    HTTP_RESPONSE_TIMEOUT_MS: '3000',
    DYNAMODB_TIMEOUT_MS: '1500',
    EVENTBRIDGE_TIMEOUT_MS: '1500',
    SQS_TIMEOUT_MS: '3000',
    POLL_LOOP_SECONDS: '0',
    POWERTOOLS_LOG_LEVEL: 'ERROR',
    POWERTOOLS_TRACE_ENABLED: 'false',
    POWERTOOLS_METRICS_NAMESPACE: 'chaos',
  };
  const workers = new Workers(env);
  const roles = [...ACTIONS.map((a) => `queue:${a}`), 'webhook', 'poller'];
  for (const role of roles) workers.start(role);
  stops.push(async () => workers.stop());
  await sleep(6_000);
  // The proxy faults the functions' calls from here on (the table was made without it).
  proxy.setPlan({ seed: SEED, rates: DYNAMODB_RATES });
  const sendingFrom = Date.now();

  const client = new SQSClient({ ...LOCAL_AWS, endpoint: sqs.url, useQueueUrlAsEndpoint: false });
  const notAccepted = new Set<string>();
  const send = async (planned: Planned, i: number, copy: number) => {
    if (i % Math.round(1 / WEBHOOK_SHARE) === 0) {
      const raw = JSON.stringify(planned.body);
      // As a client would: a refused connection or a 5xx (the process was killed) is sent again.
      for (let tries = 0; tries < 120; tries++) {
        const status = await request(`http://127.0.0.1:${webhookPort}/v1/${planned.action}`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', [SIGNATURE_HEADER]: signatureHeader(SECRET, raw) },
          body: raw,
          headersTimeout: 30_000,
        })
          .then(async (r) => {
            await r.body.dump();
            return r.statusCode;
          })
          .catch(() => 0);
        if (status > 0 && status < 500) return;
        await sleep(500);
      }
      // The client was never told its request was taken: not the service's loss, counted apart.
      notAccepted.add(planned.requestId);
      return;
    }
    await client.send(
      new SendMessageCommand({
        QueueUrl: queues[planned.action].queueUrl,
        MessageBody: JSON.stringify(planned.body),
        MessageGroupId: groupKeyOf({ ...planned, region: String(planned.body.region) }),
        // A duplicate delivery: the same request in a second message (SQS deduplicates only identical ids).
        MessageDeduplicationId: copy === 0 ? planned.requestId : `${planned.requestId}-again`,
      }),
    );
  };

  // Processes killed mid-run (SIGKILL): a request function, the poller, the webhook, another request function.
  const kills = [
    { at: 8_000, role: 'queue:detach-instances' },
    { at: 16_000, role: 'poller' },
    { at: 20_000, role: 'webhook' },
    { at: 24_000, role: 'queue:remove-instances' },
    { at: 30_000, role: 'queue:detach-alb-server-groups' },
  ];
  const killer = (async () => {
    for (const kill of kills) {
      await sleep(Math.max(0, sendingFrom + kill.at - Date.now()));
      log(`killing ${kill.role} (SIGKILL), restarting it in 2 s`);
      workers.kill(kill.role);
    }
  })();
  // A phase in which some actions are refused persistently (on the ESS groups), from 10 s into the run.
  const refusal = { from: 0, to: 0 };
  const refuser = (async () => {
    if (REFUSED_ACTIONS.length === 0) return;
    await sleep(Math.max(0, sendingFrom + 10_000 - Date.now()));
    const essGroups = [...new Set(all.filter((r) => r.provider === 'aliyun').map((r) => r.scalingGroupId))];
    const faults = REFUSED_ACTIONS.flatMap((action) =>
      // Describe calls by activity id name no group: refused for every ESS caller (Tencent's are named apart).
      action.startsWith('Describe')
        ? [{ action, error: { code: REFUSAL_CODE, httpStatus: 400 }, times: 1_000_000 }]
        : essGroups.map((scalingGroupId) => ({
            action,
            scalingGroupId,
            error: { code: REFUSAL_CODE, httpStatus: 400 },
            times: 1_000_000,
          })),
    );
    await request(`${emulator.url}/admin/faults`, {
      method: 'POST',
      headers: ADMIN,
      body: JSON.stringify(faults),
    }).then((r) => r.body.dump());
    refusal.from = Date.now();
    log(`refusing ${REFUSED_ACTIONS.join(', ')} (${REFUSAL_CODE}) for ${REFUSE_MS / 1000} s`);
    await sleep(REFUSE_MS);
    await request(`${emulator.url}/admin/faults`, { method: 'DELETE', headers: ADMIN }).then((r) =>
      r.body.dump(),
    );
    refusal.to = Date.now();
    log('refusal phase over');
  })();

  // Webhook requests go out beside the queue's (a few in flight), so that a slow or restarting webhook does
  // not hold the whole sending back.
  const webhookInFlight = new Set<Promise<void>>();
  const sendBeside = async (planned: Planned, i: number, copy: number) => {
    if (i % Math.round(1 / WEBHOOK_SHARE) !== 0) return send(planned, i, copy);
    while (webhookInFlight.size >= 8) await Promise.race(webhookInFlight);
    const sending = send(planned, i, copy).finally(() => webhookInFlight.delete(sending));
    webhookInFlight.add(sending);
  };
  for (let i = 0; i < all.length; i++) {
    const planned = all[i] as Planned;
    await sendBeside(planned, i, 0);
    if (i % Math.round(1 / DUPLICATE_SHARE) === 7) await sendBeside(planned, i, 1);
    if (i % 100 === 0) await sleep(150);
  }
  await Promise.all(webhookInFlight);
  log(`sent ${all.length} requests`);
  await killer;
  await refuser;

  const documents = DynamoDBDocumentClient.from(new DynamoDBClient({ ...LOCAL_AWS, endpoint: dynamodb.url }));
  const scan = async () => {
    const items: Record<string, unknown>[] = [];
    let ExclusiveStartKey: Record<string, never> | undefined;
    do {
      const page = await documents.send(new ScanCommand({ TableName: table, ExclusiveStartKey }));
      items.push(...(page.Items ?? []));
      ExclusiveStartKey = page.LastEvaluatedKey as typeof ExclusiveStartKey;
    } while (ExclusiveStartKey);
    return items;
  };
  let records: Record<string, unknown>[] = [];
  for (;;) {
    records = (await scan()).filter((item) => String(item.requestId).startsWith('chaos-'));
    const ended = records.filter((r) => isTerminal(r.status as LedgerStatus) && r.eventPublishedAt);
    log(`${ended.length} of ${all.length} requests ended`);
    if (ended.length === all.length || Date.now() - started > DEADLINE_MS) break;
    await sleep(5_000);
  }
  // What is still in flight settles before the judging; then nothing more acts.
  await sleep(3_000);
  workers.stop();
  const wallSeconds = Math.round((Date.now() - started) / 1000);
  records = (await scan()).filter((item) => String(item.requestId).startsWith('chaos-'));
  const groupItems = (await scan()).filter((item) => String(item.requestId).startsWith('group|'));

  const cloudChaos = (await (
    await request(`${emulator.url}/admin/chaos`, { headers: ADMIN })
  ).body.json()) as {
    calls?: number;
    injected?: Record<string, number>;
  };
  const state = (await (
    await request(`${emulator.url}/admin/state`, { headers: ADMIN })
  ).body.json()) as EmulatorState;
  const { calls } = (await (
    await request(`${emulator.url}/admin/calls`, { headers: ADMIN })
  ).body.json()) as {
    calls: CloudCall[];
  };

  // Dead letters: every message left in a DLQ, by request id.
  const deadLettered = new Set<string>();
  for (const queue of Object.values(queues)) {
    for (;;) {
      const { Messages } = await client.send(
        new ReceiveMessageCommand({
          QueueUrl: queue.deadLetterQueueUrl,
          MaxNumberOfMessages: 10,
          WaitTimeSeconds: 0,
        }),
      );
      if (!Messages?.length) break;
      for (const message of Messages) {
        try {
          deadLettered.add(String((JSON.parse(message.Body ?? '{}') as { requestId?: string }).requestId));
        } catch {
          deadLettered.add(`unreadable:${message.MessageId}`);
        }
      }
      await client.send(
        new DeleteMessageBatchCommand({
          QueueUrl: queue.deadLetterQueueUrl,
          Entries: Messages.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle as string })),
        }),
      );
    }
  }

  const verdicts = judge(all, records, state, bus.events, deadLettered, notAccepted);
  const refusedCalls = calls.filter((c) => c.code === REFUSAL_CODE).length;
  const report = write({
    all,
    verdicts,
    records,
    calls,
    groupItems,
    deadLettered,
    notAccepted,
    wallSeconds,
    cloudChaos,
    refusedCalls,
    refusal,
    proxy: { counts: proxy.counts(), faults: proxy.faults() },
    bus,
    workers,
  });
  writeFileSync(String(args.output), report.text);
  process.stdout.write(report.text);
  return report.clean;
}

interface EmulatorState {
  aliyun: {
    scalingGroups: {
      scalingGroupId: string;
      vServerGroups: { vServerGroupId: string }[];
      albServerGroups: { albServerGroupId: string }[];
    }[];
    instances: { instanceId: string; scalingGroupId?: string }[];
    activities: { id: string; action: string; instanceIds: string[]; scalingGroupId: string }[];
  };
  tencent: {
    instances: { instanceId: string; autoScalingGroupId?: string }[];
    activities: { id: string; groupId: string; type: string; instanceIds: string[] }[];
  };
}
interface CloudCall {
  action: string;
  at: string;
  status: number;
  code?: string;
  params: Record<string, string>;
}

const VERDICTS = [
  'lost',
  'falseSucceeded',
  'falseFailed',
  'actedTwice',
  'stuck',
  'deadLetteredUnrecorded',
  'eventMismatch',
] as const;
type Verdict = (typeof VERDICTS)[number];
interface Judged {
  planned: Planned;
  status?: string;
  acted: boolean;
  activities: number;
  findings: Verdict[];
}

/** Each request's outcome against what the emulator says the cloud did. */
function judge(
  all: Planned[],
  records: Record<string, unknown>[],
  state: EmulatorState,
  events: BusEvent[],
  deadLettered: Set<string>,
  notAccepted: Set<string>,
): Judged[] {
  const byId = new Map(records.map((r) => [r.requestId as string, r]));
  const essGroups = new Map(state.aliyun.scalingGroups.map((g) => [g.scalingGroupId, g]));
  const essInstances = new Map(state.aliyun.instances.map((i) => [i.instanceId, i]));
  const tencentInstances = new Map(state.tencent.instances.map((i) => [i.instanceId, i]));
  const activitiesOf = new Map<string, number>();
  const instanceActivities = [
    ...state.aliyun.activities.filter(
      (a) => a.action === 'DetachInstances' || a.action === 'RemoveInstances',
    ),
    ...state.tencent.activities,
  ];
  for (const activity of instanceActivities)
    for (const id of new Set(activity.instanceIds ?? []))
      activitiesOf.set(id, (activitiesOf.get(id) ?? 0) + 1);
  const eventsOf = new Map<string, BusEvent[]>();
  for (const event of events)
    eventsOf.set(event.requestId, [...(eventsOf.get(event.requestId) ?? []), event]);

  return all.map((planned) => {
    const record = byId.get(planned.requestId);
    const status = record?.status as string | undefined;
    // Ground truth: has each target left the group?
    const left = planned.targets.map((target) => {
      if (planned.action === 'detach-vserver-groups')
        return !essGroups.get(planned.scalingGroupId)?.vServerGroups.some((g) => g.vServerGroupId === target);
      if (planned.action === 'detach-alb-server-groups')
        return !essGroups
          .get(planned.scalingGroupId)
          ?.albServerGroups.some((g) => g.albServerGroupId === target);
      const group =
        planned.provider === 'aliyun'
          ? essInstances.get(target)?.scalingGroupId
          : tencentInstances.get(target)?.autoScalingGroupId;
      return group !== planned.scalingGroupId;
    });
    const acted = left.some(Boolean);
    const activities = planned.targets.reduce((n, t) => Math.max(n, activitiesOf.get(t) ?? 0), 0);
    const ownEvents = eventsOf.get(planned.requestId) ?? [];
    const findings: Verdict[] = [];
    const terminal = status !== undefined && isTerminal(status as LedgerStatus);
    if (!record && ownEvents.length === 0) {
      if (!notAccepted.has(planned.requestId)) findings.push('lost');
    } else if (!terminal || !record?.eventPublishedAt || ownEvents.length === 0) findings.push('stuck');
    if (status === 'SUCCEEDED' && !left.every(Boolean)) findings.push('falseSucceeded');
    if ((status === 'FAILED' || status === 'REJECTED' || status === 'TIMED_OUT') && acted)
      findings.push('falseFailed');
    if (status === 'PARTIAL') findings.push(acted ? 'falseFailed' : 'falseSucceeded');
    if (activities > 1) findings.push('actedTwice');
    if (deadLettered.has(planned.requestId) && !terminal) findings.push('deadLetteredUnrecorded');
    const eventIds = new Set(ownEvents.map((e) => e.eventId));
    if (
      terminal &&
      ownEvents.length > 0 &&
      (eventIds.size > 1 ||
        ownEvents.some((e) => LEDGER_STATUS_OF[e.status as keyof typeof LEDGER_STATUS_OF] !== status))
    )
      findings.push('eventMismatch');
    return { planned, ...(status && { status }), acted, activities, findings };
  });
}

function write(run: {
  all: Planned[];
  verdicts: Judged[];
  records: Record<string, unknown>[];
  calls: CloudCall[];
  groupItems: Record<string, unknown>[];
  deadLettered: Set<string>;
  notAccepted: Set<string>;
  wallSeconds: number;
  cloudChaos: { calls?: number; injected?: Record<string, number> };
  refusedCalls: number;
  refusal: { from: number; to: number };
  proxy: {
    counts: ReturnType<Awaited<ReturnType<typeof startDynamoDbFaultProxy>>['counts']>;
    faults: ReturnType<Awaited<ReturnType<typeof startDynamoDbFaultProxy>>['faults']>;
  };
  bus: Awaited<ReturnType<typeof startBus>>;
  workers: Workers;
}): { text: string; clean: boolean } {
  const kinds = [...new Set(run.all.map((p) => p.kind))];
  const count = (verdicts: Judged[], verdict: Verdict) =>
    verdicts.filter((v) => v.findings.includes(verdict)).length;
  const stuckGroups = run.groupItems.filter(
    (g) => g.intent !== undefined || (g.leaseUntil as number) > Date.now() + 60_000,
  );
  const statuses = new Map<string, number>();
  for (const v of run.verdicts)
    statuses.set(v.status ?? '(none)', (statuses.get(v.status ?? '(none)') ?? 0) + 1);
  const ddbTotal = Object.values(run.proxy.counts.calls).reduce((a, b) => a + b, 0);
  const ddbInjected = DYNAMODB_FAULTS.map((fault) => {
    const byOp = run.proxy.counts.injected[fault];
    const n = Object.values(byOp).reduce((a, b) => a + b, 0);
    return `${fault} ${n}${
      n > 0
        ? ` (${Object.entries(byOp)
            .map(([op, k]) => `${op} ${k}`)
            .join(', ')})`
        : ''
    }`;
  });
  const command = `npm run chaos -- ${process.argv.slice(2).join(' ')}`.trim();

  const lines = [
    '# Reliability: the chaos run',
    '',
    `Command: \`${command}\` (bench/chaos.ts), run ${new Date().toISOString().slice(0, 10)}, wall time ${run.wallSeconds} s. Not part of`,
    '`npm test`. Options: `--requests N`, `--groups N`, `--seed N`, `--function-timeout S`, `--poller-timeout S`,',
    '`--refuse A,B`, `--refuse-seconds S`, `--deadline-minutes M`, `--output FILE`.',
    '',
    `${run.all.length} requests over ${GROUPS} scaling groups (half ESS, half Tencent), one instance or server group each`,
    'and every action: ESS DetachInstances, RemoveInstances, DetachVServerGroups, DetachAlbServerGroups (half with',
    'ForceDetach); Tencent API 3.0 DetachInstances and RemoveInstances, and v2 DetachInstance. A third of the instance',
    'requests without preflight; 20% through the webhook, the rest through the FIFO queues; 5% delivered twice. Real',
    'handlers, fauxqs, DynamoDB Local (behind the fault proxy) and the cloud emulator.',
    '',
    '**The judge is the emulator** (`/admin/state`, `/admin/calls`): what the cloud did, never the ledger. Per request:',
    '- *lost*: no ledger record and no event; *stuck*: not terminal with an event published by the end;',
    '- *false Succeeded*: Succeeded while its instance (or server group) is still in the group;',
    '- *false Failed*: Failed, Rejected or TimedOut while the cloud took its instance (or server group) out;',
    '- *acted twice*: the instance is in more than one scaling activity;',
    '- *dead-lettered unrecorded*: its message is in a DLQ and its record is not terminal;',
    '- *event ≠ record*: more than one event id, or an event status other than the record.',
    '',
    '## Faults injected',
    '',
    '| where | fault | count |',
    '|---|---|---|',
    `| cloud (emulator chaos, of ${run.cloudChaos.calls ?? 0} calls) | ${Object.entries(
      run.cloudChaos.injected ?? {},
    )
      .map(([fault, n]) => `${fault} ${n}`)
      .join(', ')} | ${Object.values(run.cloudChaos.injected ?? {}).reduce((a, b) => a + b, 0)} |`,
    `| cloud, refused persistently for ${Math.round((run.refusal.to - run.refusal.from) / 1000)} s | ${REFUSED_ACTIONS.join(', ')} on the ESS groups (${REFUSAL_CODE}, 400) | ${run.refusedCalls} |`,
    `| DynamoDB (proxy, of ${ddbTotal} calls) | ${ddbInjected.join('; ')} | ${run.proxy.faults.length} |`,
    `| EventBridge (of ${run.bus.calls()} PutEvents) | ${Object.entries(run.bus.injected)
      .map(([fault, n]) => `${fault} ${n}`)
      .join(', ')} | ${Object.values(run.bus.injected).reduce((a, b) => a + b, 0)} |`,
    `| Lambda timeout (request functions ${FUNCTION_TIMEOUT_S} s, poller ${POLLER_TIMEOUT_S} s) | invocations killed at their deadline: ${summarizeRoles(run.workers.timedOut)} | ${run.workers.timedOut.length} |`,
    `| processes killed (SIGKILL) | ${summarizeRoles(run.workers.killed)} | ${run.workers.killed.length} |`,
    ...(run.workers.crashed.length > 0
      ? [
          `| processes that died otherwise | ${summarizeRoles(run.workers.crashed)} | ${run.workers.crashed.length} |`,
        ]
      : []),
    '',
    `DynamoDB calls by operation: ${Object.entries(run.proxy.counts.calls)
      .sort((a, b) => b[1] - a[1])
      .map(([op, n]) => `${op} ${n}`)
      .join(', ')}.`,
    '',
    '## Outcomes, per action',
    '',
    '| action | requests | lost | false Succeeded | false Failed | acted twice | stuck | dead-lettered unrecorded | event ≠ record |',
    '|---|---|---|---|---|---|---|---|---|',
    ...[...kinds, 'all'].map((kind) => {
      const verdicts = kind === 'all' ? run.verdicts : run.verdicts.filter((v) => v.planned.kind === kind);
      return `| ${kind === 'all' ? '**all**' : kind} | ${verdicts.length} | ${VERDICTS.map((v) => count(verdicts, v)).join(' | ')} |`;
    }),
    '',
    `Webhook requests never accepted (no answer below 500 after 60 s of tries, nothing recorded; not counted as lost): ${run.notAccepted.size}.`,
    '',
    `Goal: 0 in every column. Groups stuck (an intent left, or a lease far ahead): ${stuckGroups.length}. Messages dead-lettered: ${run.deadLettered.size}.`,
    '',
    `Ledger statuses: ${[...statuses.entries()].map(([s, n]) => `${s} ${n}`).join(', ')}.`,
    '',
  ];
  const false_ = run.verdicts.filter((v) => v.findings.length > 0);
  if (false_.length > 0) {
    lines.push(
      '## Found on branch i17-chaos before the fixes',
      '',
      'Each request with a finding: what the ledger said, what the emulator did, and the faults that touched it',
      '(cloud calls naming its instance or server group, in order; DynamoDB faults on calls naming it; bus faults).',
      '',
    );
    for (const v of false_.slice(0, 40)) lines.push(...describe(v, run), '');
    if (false_.length > 40) lines.push(`… and ${false_.length - 40} more.`, '');
  }
  const clean = false_.length === 0 && stuckGroups.length === 0;
  return { text: `${lines.join('\n')}\n`, clean };
}

function summarizeRoles(events: { role: string }[]): string {
  const byRole = new Map<string, number>();
  for (const e of events) byRole.set(e.role, (byRole.get(e.role) ?? 0) + 1);
  return [...byRole.entries()].map(([role, n]) => `${role} ${n}`).join(', ') || 'none';
}

/** Calls that act, one by one; Describe calls (a poller may make hundreds) counted by answer. */
function summarizeCalls(calls: CloudCall[], rel: (at: number) => string): string {
  const parts: string[] = [];
  let i = 0;
  while (i < calls.length) {
    const call = calls[i] as CloudCall;
    if (!call.action.startsWith('Describe')) {
      parts.push(
        `${call.action} ${call.status}${call.code ? ` ${call.code}` : ''} ${rel(Date.parse(call.at))}`,
      );
      i++;
      continue;
    }
    let j = i;
    const answers = new Map<string, number>();
    while (j < calls.length && (calls[j] as CloudCall).action === call.action) {
      const c = calls[j] as CloudCall;
      const answer = `${c.status}${c.code ? ` ${c.code}` : ''}`;
      answers.set(answer, (answers.get(answer) ?? 0) + 1);
      j++;
    }
    const last = calls[j - 1] as CloudCall;
    parts.push(
      `${call.action} ×${j - i} (${[...answers.entries()].map(([a, n]) => `${a} ×${n}`).join(', ')}) ${rel(Date.parse(call.at))}${j - i > 1 ? ` to ${rel(Date.parse(last.at))}` : ''}`,
    );
    i = j;
  }
  return parts.join('; ');
}

function describe(v: Judged, run: Parameters<typeof write>[0]): string[] {
  const record = run.records.find((r) => r.requestId === v.planned.requestId);
  const event = record?.event as { status?: string; error?: { code?: string; message?: string } } | undefined;
  const lastError = record?.lastError as { code?: string } | undefined;
  const targetCalls = run.calls.filter((c) =>
    v.planned.targets.some((t) =>
      Object.values(c.params).some((value) => value === t || value.includes(`"${t}"`)),
    ),
  );
  const ddb = run.proxy.faults.filter((f) => f.body.includes(`"${v.planned.requestId}"`));
  const busFaults = run.bus.faulted.filter((f) => f.requestIds.includes(v.planned.requestId));
  const t0 = Date.parse(String(record?.createdAt ?? new Date(0).toISOString()));
  const rel = (at: number) => `+${((at - t0) / 1000).toFixed(1)} s`;
  return [
    `- \`${v.planned.requestId}\` (${v.planned.kind}, ${v.planned.targets.join(', ')}): **${v.findings.join(', ')}**. Ledger ${v.status ?? 'no record'}${event?.error?.code ? ` (${event.error.code})` : ''}${lastError?.code ? `, last error ${lastError.code}` : ''}, attempts ${String(record?.attempts ?? '-')}; emulator: ${v.acted ? 'taken out of the group' : 'still in the group'}${v.activities > 0 ? `, in ${v.activities} activit${v.activities === 1 ? 'y' : 'ies'}` : ''}.`,
    `  Cloud calls: ${summarizeCalls(targetCalls, rel) || 'none'}.`,
    `  DynamoDB faults: ${ddb.map((f) => `${f.operation} ${f.fault} ${rel(f.at)}`).join('; ') || 'none'}${busFaults.length > 0 ? `. Bus faults: ${busFaults.map((f) => `${f.fault} ${rel(f.at)}`).join('; ')}` : ''}.`,
  ];
}

const ok = await main().finally(async () => {
  for (const stop of stops.reverse()) await stop().catch(() => undefined);
});
process.exit(ok ? 0 : 1);
