/**
 * `npm run chaos` (not part of `npm test`): 2,000 requests over 50 scaling groups (ESS and Tencent), through the
 * queues and the webhook, with about 10% throttling, 5% 5xx, 2% connections dropped before and 2% after the
 * cloud acted, 2% answers slower than the client's timeout, 5% duplicate deliveries; the functions' process and
 * the poller's are killed (SIGKILL) mid-run and restarted. Real parts: fauxqs, DynamoDB Local, the cloud
 * emulator, the real handlers. Writes RELIABILITY.md with what it measured.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { GetQueueAttributesCommand, SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { DynamoDBDocumentClient, ScanCommand } from '@aws-sdk/lib-dynamodb';
import { request } from 'undici';
import { EmulatorSeed } from '../emulator/seed.ts';
import { startEmulator } from '../emulator/server.ts';
import {
  createFifoQueue,
  createLedgerTable,
  freePort,
  LOCAL_AWS,
  startDynamoDb,
  startSqs,
} from '../local/services.ts';
import { isTerminal } from '../shared/detach/completion.ts';
import type { LedgerStatus } from '../shared/detach/ports.ts';
import { SIGNATURE_HEADER, signatureHeader } from '../shared/signing/webhook-signature.ts';

const REQUESTS = 2_000;
const GROUPS = 50;
const PER_GROUP = REQUESTS / GROUPS;
const WEBHOOK_SHARE = 0.2;
const DUPLICATE_SHARE = 0.05;
const DEADLINE_MS = 15 * 60_000;
const SECRET = 'chaos-webhook-secret-not-a-real-one';
const EMULATOR_KEY = { accessKeyId: 'LTAI-emulator-key', accessKeySecret: 'emulator-secret' };
const TENCENT_KEY = { secretId: 'AKIDemulatorTencentKey', secretKey: 'emulator-tencent-secret' };

const started = Date.now();
const log = (message: string) =>
  process.stdout.write(`[${((Date.now() - started) / 1000).toFixed(0)} s] ${message}\n`);
const stops: (() => Promise<unknown>)[] = [];

/** A stand-in for the bus: it records what the functions publish, so events per request are counted by id. */
async function startEventRecorder(port: number) {
  const events: { requestId: string; eventId: string }[] = [];
  const server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { Entries: { Detail: string }[] };
    for (const entry of body.Entries) {
      const detail = JSON.parse(entry.Detail) as { requestId: string; eventId: string };
      events.push({ requestId: detail.requestId, eventId: detail.eventId });
    }
    res.writeHead(200, { 'content-type': 'application/x-amz-json-1.1' }).end(
      JSON.stringify({
        FailedEntryCount: 0,
        Entries: body.Entries.map(() => ({ EventId: randomBytes(8).toString('hex') })),
      }),
    );
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  stops.push(() => new Promise((resolve) => server.close(resolve)));
  return events;
}

function worker(role: 'functions' | 'poller', env: Record<string, string>): ChildProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', 'bench/chaos-worker.ts', role], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  return child;
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
  const emulator = await startEmulator({ port: 0 });
  stops.push(() => emulator.close());
  const events = await startEventRecorder(busPort);
  const table = 'chaos-operations';
  await createLedgerTable(dynamodb.url, table);
  const queues = {
    'detach-instances': await createFifoQueue(
      sqs.url,
      {
        queueName: 'chaos-detach-instances.fifo',
        deadLetterQueueName: 'chaos-detach-instances-dlq.fifo',
        maxReceiveCount: 10,
      },
      30,
    ),
    'remove-instances': await createFifoQueue(
      sqs.url,
      {
        queueName: 'chaos-remove-instances.fifo',
        deadLetterQueueName: 'chaos-remove-instances-dlq.fifo',
        maxReceiveCount: 10,
      },
      30,
    ),
  };

  // 25 ESS and 25 Tencent groups, each with an instance for every request, activities of a few hundred ms.
  const groups = Array.from({ length: GROUPS }, (_, g) => {
    const provider = g % 2 === 0 ? 'aliyun' : 'tencent';
    const id = provider === 'aliyun' ? `asg-chaos-${g}` : `asg-chaos${g}`;
    const instances = Array.from({ length: PER_GROUP }, (_, i) =>
      provider === 'aliyun' ? `i-chaos-${g}-${i}` : `ins-chaos${g}x${i}`,
    );
    return { provider, id, instances };
  });
  const ess = groups.filter((g) => g.provider === 'aliyun');
  const tencent = groups.filter((g) => g.provider === 'tencent');
  const seed = EmulatorSeed.parse({
    aliyun: {
      scalingGroups: ess.map((g) => ({
        scalingGroupId: g.id,
        regionId: 'cn-hangzhou',
        minSize: 0,
        maxSize: 100,
        activityDurationMs: 300,
      })),
      instances: ess.flatMap((g) => g.instances.map((instanceId) => ({ instanceId, scalingGroupId: g.id }))),
    },
    tencent: {
      groups: tencent.map((g) => ({
        autoScalingGroupId: g.id,
        region: 'ap-guangzhou',
        minSize: 0,
        maxSize: 100,
        activityDurationMs: 300,
      })),
      instances: tencent.flatMap((g) =>
        g.instances.map((instanceId) => ({ instanceId, autoScalingGroupId: g.id })),
      ),
    },
  });
  await request(`${emulator.url}/admin/seed/add`, { method: 'POST', body: JSON.stringify(seed) }).then((r) =>
    r.body.dump(),
  );
  await request(`${emulator.url}/admin/chaos`, {
    method: 'POST',
    body: JSON.stringify({
      seed: 20261123,
      rates: { throttle: 0.1, serverError: 0.05, dropBefore: 0.02, dropAfter: 0.02, slow: 0.02 },
      slowMs: 4_000,
    }),
  }).then((r) => r.body.dump());

  const env = {
    AWS_REGION: LOCAL_AWS.region,
    AWS_ACCESS_KEY_ID: 'local',
    AWS_SECRET_ACCESS_KEY: 'local',
    AWS_ENDPOINT_URL_SQS: sqs.url,
    AWS_ENDPOINT_URL_DYNAMODB: dynamodb.url,
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
    MAX_ATTEMPTS: '8',
    RETRY_BASE_SECONDS: '1',
    RETRY_MAX_SECONDS: '5',
    OPERATION_TIMEOUT_SECONDS: '900',
    HTTP_CONNECT_TIMEOUT_MS: '1000',
    HTTP_RESPONSE_TIMEOUT_MS: '3000',
    POLL_LOOP_SECONDS: '0',
    POWERTOOLS_LOG_LEVEL: 'ERROR',
    POWERTOOLS_TRACE_ENABLED: 'false',
    POWERTOOLS_METRICS_NAMESPACE: 'chaos',
  };
  const processes: Record<'functions' | 'poller', ChildProcess> = {
    functions: worker('functions', env),
    poller: worker('poller', env),
  };
  stops.push(async () => {
    for (const child of Object.values(processes)) child.kill('SIGKILL');
  });
  await sleep(4_000);

  // The requests: 80% through the queues, 20% through the webhook; 5% delivered twice.
  const client = new SQSClient({ ...LOCAL_AWS, endpoint: sqs.url, useQueueUrlAsEndpoint: false });
  const all = groups.flatMap((g, gi) =>
    g.instances.map((instanceId, i) => ({
      requestId: `chaos-${gi}-${i}`,
      provider: g.provider,
      region: g.provider === 'aliyun' ? 'cn-hangzhou' : 'ap-guangzhou',
      scalingGroupId: g.id,
      instanceIds: [instanceId],
      preflight: (gi + i) % 3 !== 0,
    })),
  );
  const action = (i: number) =>
    (i % 4 === 0 ? 'remove-instances' : 'detach-instances') as keyof typeof queues;
  const send = async (body: (typeof all)[number], i: number, copy: number) => {
    if (i % Math.round(1 / WEBHOOK_SHARE) === 0) {
      const raw = JSON.stringify(body);
      // As a client would: a refused connection or a 5xx (the function process was being killed) is sent again.
      for (let tries = 0; tries < 120; tries++) {
        const status = await request(`http://127.0.0.1:${webhookPort}/v1/${action(i)}`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', [SIGNATURE_HEADER]: signatureHeader(SECRET, raw) },
          body: raw,
        })
          .then(async (r) => {
            await r.body.dump();
            return r.statusCode;
          })
          .catch(() => 0);
        if (status > 0 && status < 500) break;
        await sleep(500);
      }
      return;
    }
    await client.send(
      new SendMessageCommand({
        QueueUrl: queues[action(i)].queueUrl,
        MessageBody: JSON.stringify(body),
        MessageGroupId: `${body.provider}:${body.region}:${body.scalingGroupId}`,
        // A duplicate delivery: the same request in a second message (SQS deduplicates only identical ids).
        MessageDeduplicationId: copy === 0 ? body.requestId : `${body.requestId}-again`,
      }),
    );
  };
  const kills = [
    { at: 8_000, role: 'functions' as const },
    { at: 16_000, role: 'poller' as const },
    { at: 24_000, role: 'functions' as const },
  ];
  const killer = (async () => {
    for (const kill of kills) {
      await sleep(Math.max(0, started + 10_000 + kill.at - Date.now()));
      log(`killing the ${kill.role} process (SIGKILL), restarting it in 2 s`);
      processes[kill.role].kill('SIGKILL');
      await sleep(2_000);
      processes[kill.role] = worker(kill.role, env);
    }
  })();
  for (let i = 0; i < all.length; i++) {
    const body = all[i] as (typeof all)[number];
    await send(body, i, 0);
    if (i % Math.round(1 / DUPLICATE_SHARE) === 7) await send(body, i, 1);
    if (i % 100 === 0) await sleep(150);
  }
  log(`sent ${all.length} requests`);
  await killer;

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
  const wallSeconds = Math.round((Date.now() - started) / 1000);
  const chaos = (await (await request(`${emulator.url}/admin/chaos`)).body.json()) as {
    calls?: number;
    injected?: Record<string, number>;
  };
  log(`faults injected: ${JSON.stringify(chaos)}`);

  // The invariants.
  const byId = new Map(records.map((r) => [r.requestId as string, r]));
  const lost = all.filter((r) => {
    const record = byId.get(r.requestId);
    return !record || !isTerminal(record.status as LedgerStatus) || !record.eventPublishedAt;
  });
  const state = (await (await request(`${emulator.url}/admin/state`)).body.json()) as {
    aliyun: { activities: { instanceIds: string[] }[] };
    tencent: { activities: { instanceIds: string[] }[] };
  };
  const actedOn = new Map<string, number>();
  for (const activity of [...state.aliyun.activities, ...state.tencent.activities])
    for (const id of new Set(activity.instanceIds)) actedOn.set(id, (actedOn.get(id) ?? 0) + 1);
  const twice = [...actedOn.values()].filter((n) => n > 1).length;
  const eventIds = new Map<string, Set<string>>();
  for (const event of events) {
    if (!eventIds.has(event.requestId)) eventIds.set(event.requestId, new Set());
    eventIds.get(event.requestId)?.add(event.eventId);
  }
  const perRequest = all.map((r) => eventIds.get(r.requestId)?.size ?? 0);
  const published = events.filter((e) => e.requestId.startsWith('chaos-')).length;
  const groupItems = (await scan()).filter((item) => String(item.requestId).startsWith('group|'));
  const stuck = groupItems.filter(
    (g) => g.intent !== undefined || (g.leaseUntil as number) > Date.now() + 60_000,
  );
  let dlq = 0;
  for (const queue of Object.values(queues)) {
    const { Attributes } = await client.send(
      new GetQueueAttributesCommand({
        QueueUrl: queue.deadLetterQueueUrl,
        AttributeNames: ['ApproximateNumberOfMessages'],
      }),
    );
    dlq += Number(Attributes?.ApproximateNumberOfMessages ?? 0);
  }
  const statuses = new Map<string, number>();
  for (const record of records)
    statuses.set(record.status as string, (statuses.get(record.status as string) ?? 0) + 1);

  const lines = [
    '# Reliability: the chaos run',
    '',
    `Command: \`npm run chaos\` (bench/chaos.ts), run ${new Date().toISOString().slice(0, 10)}. Not part of \`npm test\`.`,
    '',
    `${REQUESTS} requests over ${GROUPS} scaling groups (25 ESS, 25 Tencent API 3.0), one instance each, a quarter of them`,
    'RemoveInstances, a third without preflight; 20% through the webhook, the rest through the FIFO queues; 5% delivered',
    'twice. The emulator draws a fault for every call (seeded): 10% throttling, 5% 5xx, 2% connections dropped before',
    'and 2% after acting, 2% answers slower (4 s) than the client timeout (3 s). The functions process was killed',
    '(SIGKILL) twice and the poller once, mid-run, each restarted after 2 s. Real handlers, fauxqs, DynamoDB Local and',
    'the cloud emulator; the bus is a recorder of PutEvents, so events are counted by event id.',
    '',
    '| measure | result | goal |',
    '|---|---|---|',
    `| lost (no terminal state with a published event) | ${lost.length} | 0 |`,
    `| instances acted on twice by the cloud | ${twice} | 0 |`,
    `| distinct events per request (min / max) | ${Math.min(...perRequest)} / ${Math.max(...perRequest)} | 1 / 1 |`,
    `| event deliveries published (at least once; duplicates share an id) | ${published} | ≥ ${REQUESTS} |`,
    `| groups stuck (an intent left, or a lease far ahead) | ${stuck.length} | 0 |`,
    `| messages in a DLQ | ${dlq} | 0 |`,
    `| wall time | ${wallSeconds} s | |`,
    '',
    `Terminal states: ${[...statuses.entries()].map(([s, n]) => `${s} ${n}`).join(', ')}.`,
    '',
    `Faults the emulator injected, of ${chaos.calls ?? 0} cloud calls: ${Object.entries(chaos.injected ?? {})
      .map(([fault, n]) => `${fault} ${n}`)
      .join(', ')}.`,
    '',
  ];
  if (lost.length > 0)
    lines.push(
      `Lost: ${lost
        .slice(0, 10)
        .map((r) => r.requestId)
        .join(', ')}.`,
      '',
    );
  writeFileSync('RELIABILITY.md', `${lines.join('\n')}\n`);
  process.stdout.write(`${lines.join('\n')}\n`);
  return lost.length === 0 && twice === 0 && stuck.length === 0 && dlq === 0 && Math.max(...perRequest) === 1;
}

const ok = await main().finally(async () => {
  for (const stop of stops.reverse()) await stop().catch(() => undefined);
});
process.exit(ok ? 0 : 1);
