import { writeFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { BatchWriteCommand, DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { EmulatorSeed } from '../emulator/seed.ts';
import { startEmulator } from '../emulator/server.ts';
import { createLedgerTable, freePort, LOCAL_AWS, startDynamoDb } from '../local/services.ts';
import type { CompletionEvent } from '../shared/contracts/index.ts';
import { chunk } from '../shared/detach/collections.ts';
import { leaseFor } from '../shared/detach/dispatch.ts';
import { pollActivities, pollRepeatedly } from '../shared/detach/poll.ts';
import type { OperationRecord } from '../shared/detach/ports.ts';
import { submitRequest } from '../shared/detach/submit.ts';
import { DynamoDbLedger, pendingShardOf } from '../shared/ledger/dynamodb-ledger.ts';
import { EssClient } from '../shared/providers/aliyun/ess-client.ts';
import { EssProvider } from '../shared/providers/aliyun/ess-provider.ts';
import { createHttpAgent } from '../shared/providers/http.ts';

/**
 * npm run bench: P3 and P4 of issue #6 on real parts (DynamoDB Local, the cloud emulator over HTTP, the real
 * ledger, ESS client and poller); completion events go to an in-process recorder that notes when each was
 * published. Results are written to BENCHMARKS.md.
 */
const KEY = { accessKeyId: 'LTAI-emulator-key', accessKeySecret: 'emulator-secret' };
const REGION = 'cn-hangzhou';

const dynamo = await startDynamoDb(await freePort());
const emulator = await startEmulator({ port: await freePort() });
const dispatcher = createHttpAgent();
const client = new DynamoDBClient({ ...LOCAL_AWS, endpoint: dynamo.url });
const ess = new EssClient({ credentials: async () => KEY, dispatcher, endpointOverride: emulator.url });
const providers = { aliyun: new EssProvider(ess), tencent: new EssProvider(ess) };
const published = new Map<string, number>();
const publisher = {
  publish: async (event: CompletionEvent) => void published.set(event.requestId, Date.now()),
};
const clock = { now: () => new Date() };
const dispatchSettings = {
  maxAttempts: 8,
  retry: { baseSeconds: 5, maxSeconds: 300 },
  activityHoldMs: 3_600_000,
  // The deployed defaults (HTTP connect 3 s, response 10 s).
  ...leaseFor({ connectTimeoutMs: 3_000, responseTimeoutMs: 10_000 }),
};
const lines: string[] = [];
const report = (line: string) => {
  lines.push(line);
  process.stdout.write(`${line}\n`);
};

async function newLedger(name: string) {
  await createLedgerTable(dynamo.url, name);
  return new DynamoDbLedger(client, name);
}

const percentile = (values: number[], p: number) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] as number;
};

/**
 * P1: `count` one-instance requests for one group, delivered as the function gets them, then the poller at a
 * 1 s interval (both runs alike) until every request has its event.
 */
async function p1(label: string, coalesce: boolean, count: number) {
  const ledger = await newLedger(`bench-p1-${label}`);
  const groupId = `asg-p1-${label}`;
  emulator.ess.add(
    EmulatorSeed.parse({
      aliyun: {
        scalingGroups: [
          { scalingGroupId: groupId, regionId: REGION, minSize: 0, maxSize: 1000, activityDurationMs: 1000 },
        ],
        instances: Array.from({ length: count }, (_, i) => ({
          instanceId: `i-p1-${label}-${i}`,
          scalingGroupId: groupId,
        })),
      },
    }),
  );
  const deps = {
    ledger,
    publisher,
    providers,
    clock,
    timeoutMs: 3_600_000,
    concurrency: 8,
    ...dispatchSettings,
    coalesce,
  };
  const callsBefore = emulator.calls.length;
  const started = Date.now();
  for (let i = 0; i < count; i++) {
    const body = {
      requestId: `p1-${label}-${i}`,
      provider: 'aliyun',
      region: REGION,
      scalingGroupId: groupId,
      instanceIds: [`i-p1-${label}-${i}`],
      preflight: false,
    };
    await submitRequest(deps, 'detach-instances', { body, messageId: body.requestId, receiveCount: 1 });
  }
  const ids = Array.from({ length: count }, (_, i) => `p1-${label}-${i}`);
  while (ids.some((id) => !published.has(id)) && Date.now() - started < 900_000) {
    await pollActivities(deps);
    await sleep(1000);
  }
  const last = Math.max(...ids.map((id) => published.get(id) ?? Number.NaN));
  const calls = emulator.calls.slice(callsBefore).filter((c) => c.action === 'DetachInstances');
  return {
    calls: calls.length,
    refused: calls.filter((c) => c.code).length,
    seconds: (last - started) / 1000,
    events: ids.filter((id) => published.has(id)).length,
  };
}

try {
  // P1: 200 one-instance requests for one group, coalescing on vs one call per request.
  {
    const on = await p1('on', true, 200);
    const off = await p1('off', false, 200);
    report('## P1: 200 one-instance requests for one ESS group, activities of 1 s, poller every 1 s');
    report('');
    report('| | DetachInstances calls | refused by the cloud | time to the last completion event | events |');
    report('|---|---|---|---|---|');
    report(`| coalescing on | ${on.calls} | ${on.refused} | ${on.seconds.toFixed(1)} s | ${on.events} |`);
    report(
      `| one call per request | ${off.calls} | ${off.refused} | ${off.seconds.toFixed(1)} s | ${off.events} |`,
    );
    report('');
    report(
      'Goal: 10 calls (ceil(200/20)). The first request goes alone the moment it arrives, before the others',
    );
    report('are waiting, so the floor here is 1 + ceil(199/20) = 11.');
    report('');
  }

  // P3: one poll pass over 10,000 operations in progress in one region.
  {
    const count = 10_000;
    const ledger = await newLedger('bench-p3');
    const documents = DynamoDBDocumentClient.from(client);
    const now = Date.now();
    const state = emulator.ess.state;
    const items: OperationRecord[] = Array.from({ length: count }, (_, i) => {
      const activityId = `asa-bench${String(i).padStart(6, '0')}`;
      // The emulator's activities are put in place directly: starting 10,000 through the API needs 10,000 groups.
      state.activities.set(activityId, {
        id: activityId,
        scalingGroupId: `asg-bench${i}`,
        regionId: REGION,
        action: 'DetachInstances',
        instanceIds: [`i-bench${i}`],
        startedAt: now,
        endsAt: now + 3_600_000,
        outcome: { status: 'Successful' },
        settled: false,
        decreaseDesiredCapacity: true,
        description: 'bench',
        ignoredInstanceIds: [],
        detachFromBalancers: false,
        destroyed: [],
        stopped: [],
      });
      const requestId = `p3-${i}`;
      return {
        requestId,
        action: 'detach-instances',
        status: 'IN_PROGRESS',
        request: {
          requestId,
          provider: 'aliyun',
          region: REGION,
          scalingGroupId: `asg-bench${i}`,
          instanceIds: [`i-bench${i}`],
          preflight: true,
          dryRun: false,
        },
        activityId,
        attempts: 1,
        createdAt: new Date(now).toISOString(),
        updatedAt: new Date(now).toISOString(),
        submittedAt: new Date(now).toISOString(),
        pendingShard: pendingShardOf(requestId),
      } as OperationRecord & { pendingShard: string };
    });
    for (const batch of chunk(items, 25)) {
      await documents.send(
        new BatchWriteCommand({
          RequestItems: { 'bench-p3': batch.map((Item) => ({ PutRequest: { Item } })) },
        }),
      );
    }
    const callsBefore = emulator.calls.length;
    const rssBefore = process.memoryUsage().rss;
    let peak = rssBefore;
    const sampler = setInterval(() => {
      peak = Math.max(peak, process.memoryUsage().rss);
    }, 20);
    const started = performance.now();
    const summary = await pollActivities({
      ledger,
      publisher,
      providers,
      clock,
      timeoutMs: 7_200_000,
      concurrency: 8,
      ...dispatchSettings,
    });
    const wall = performance.now() - started;
    clearInterval(sampler);
    const describeCalls = emulator.calls
      .slice(callsBefore)
      .filter((c) => c.action === 'DescribeScalingActivities').length;
    report('## P3: one poll pass over 10,000 in-progress operations, one region');
    report('');
    report('| measure | result | goal |');
    report('|---|---|---|');
    report(`| operations examined | ${summary.examined} | 10,000 |`);
    report(`| DescribeScalingActivities calls | ${describeCalls} | 500 |`);
    report(`| still open after the pass | ${summary.open} | 10,000 |`);
    report(`| wall time | ${(wall / 1000).toFixed(1)} s | |`);
    report(
      `| peak RSS (whole bench process, sampled every 20 ms) | ${Math.round(peak / 2 ** 20)} MiB (${Math.round(rssBefore / 2 ** 20)} MiB before the pass) | |`,
    );
    report('');
  }

  // P4: delay from an activity's end (emulator clock) to its completion event, default poll settings.
  {
    const count = 40;
    const ledger = await newLedger('bench-p4');
    const intervalMs = 5000;
    const groups = Array.from({ length: count }, (_, i) => ({
      scalingGroupId: `asg-p4-${i}`,
      regionId: REGION,
      minSize: 0,
      maxSize: 10,
      // Activities end at spread-out moments, so the poller's phase does not favour them.
      activityDurationMs: 2_000 + Math.floor((i * 37_000) / count),
    }));
    emulator.ess.add(
      EmulatorSeed.parse({
        aliyun: {
          scalingGroups: groups,
          instances: groups.map((g, i) => ({ instanceId: `i-p4-${i}`, scalingGroupId: g.scalingGroupId })),
        },
      }),
    );
    for (const [i, g] of groups.entries()) {
      const request = {
        requestId: `p4-${i}`,
        provider: 'aliyun' as const,
        region: REGION,
        scalingGroupId: g.scalingGroupId,
        instanceIds: [`i-p4-${i}`],
        preflight: false,
        dryRun: false,
      };
      await submitRequest({ ledger, publisher, providers, clock, ...dispatchSettings }, 'detach-instances', {
        body: request,
        messageId: request.requestId,
        receiveCount: 1,
      });
    }
    // The deployed schedule: an invocation a minute, each passing every 5 s for 45 s (POLL_LOOP_SECONDS).
    const deadline = Date.now() + 55_000;
    while (
      Date.now() < deadline &&
      Array.from({ length: count }, (_, i) => `p4-${i}`).some((id) => !published.has(id))
    ) {
      await pollRepeatedly(
        { ledger, publisher, providers, clock, timeoutMs: 3_600_000, concurrency: 8, ...dispatchSettings },
        { intervalMs, deadline: Math.min(deadline, Date.now() + 45_000), sleep: (ms) => sleep(ms) },
      );
      await sleep(100);
    }
    const delays = [...emulator.ess.state.activities.values()]
      .filter((a) => a.scalingGroupId.startsWith('asg-p4-'))
      .map((a) => {
        const requestId = `p4-${a.scalingGroupId.slice('asg-p4-'.length)}`;
        return (published.get(requestId) ?? Number.NaN) - a.endsAt;
      });
    const seen = delays.filter((d) => !Number.isNaN(d));
    report('## P4: activity end (emulator clock) to completion event, default poll settings');
    report('');
    report('| measure | result | goal |');
    report('|---|---|---|');
    report(`| operations | ${count} (activities of 2 to 39 s, ending spread over 37 s) | |`);
    report(`| events seen | ${seen.length} | ${count} |`);
    report(`| p50 delay | ${(percentile(seen, 50) / 1000).toFixed(1)} s | |`);
    report(`| p95 delay | ${(percentile(seen, 95) / 1000).toFixed(1)} s | under 15 s |`);
    report(`| max delay | ${(Math.max(...seen) / 1000).toFixed(1)} s | |`);
    report('');
  }
} finally {
  await dispatcher.close();
  await emulator.close();
  await dynamo.stop();
}

writeFileSync(
  new URL('../BENCHMARKS.md', import.meta.url),
  `# Benchmarks

Produced by \`npm run bench\` (\`tsx bench/run.ts\`) on ${new Date().toISOString().slice(0, 10)}, on this project's CI-sized
machine (2 cores). Real parts: DynamoDB Local, the cloud emulator over HTTP, the real ledger, ESS client and
poller, in one process; completion events go to an in-process recorder that notes when each was published.

${lines.join('\n')}
`,
);
process.exit(0);
