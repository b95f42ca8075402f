import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { EmulatorSeed } from '../emulator/seed.ts';
import { startEmulator } from '../emulator/server.ts';
import { createLedgerTable, freePort, LOCAL_AWS, startDynamoDb } from '../local/services.ts';
import type { CompletionEvent } from '../shared/contracts/index.ts';
import { leaseFor } from '../shared/detach/dispatch.ts';
import { pollActivities } from '../shared/detach/poll.ts';
import { pollRepeatedly } from '../shared/detach/poll-loop.ts';
import { submitRequest } from '../shared/detach/submit.ts';
import { DynamoDbLedger } from '../shared/ledger/dynamodb-ledger.ts';
import { EssClient } from '../shared/providers/aliyun/ess-client.ts';
import { EssProvider } from '../shared/providers/aliyun/ess-provider.ts';
import { createHttpAgent } from '../shared/providers/http.ts';
import { measureClients, P2_ROUNDS } from './p2-clients.ts';
import { measurePollPass } from './p3-poll-pass.ts';
import { measureBundles, measureVariants, RUNS as P5_RUNS } from './p5-bundles.ts';
import { reportCosts } from './p6-report.ts';
import { percentile } from './stats.ts';

/**
 * npm run bench [-- p1 p2 p3 p4 p5 p6]: the benchmarks of issues #6 and #12 on real parts (DynamoDB Local, the
 * cloud emulator over HTTP, the real ledger, clients and poller, the packaged artefacts), written to
 * BENCHMARKS.md. Naming parts runs only those; the other sections of BENCHMARKS.md are kept as they were.
 */
const PARTS = ['p1', 'p2', 'p3', 'p4', 'p5', 'p6'] as const;
type Part = (typeof PARTS)[number];
const asked = process.argv.slice(2).map((arg) => arg.toLowerCase());
const unknown = asked.filter((arg) => !(PARTS as readonly string[]).includes(arg));
if (unknown.length > 0) {
  process.stderr.write(`unknown part(s) ${unknown.join(', ')}; the parts are ${PARTS.join(', ')}\n`);
  process.exit(2);
}
const parts = new Set<Part>(asked.length > 0 ? (asked as Part[]) : PARTS);
const KEY = { accessKeyId: 'LTAI-emulator-key', accessKeySecret: 'emulator-secret' };
const REGION = 'cn-hangzhou';
/** serverless.yml PollNextQueue DelaySeconds. */
const P4_NEXT_PASS_DELAY_MS = 4_000;

const dynamo = await startDynamoDb(await freePort());
const emulator = await startEmulator({ port: await freePort() });
const httpAgent = createHttpAgent();
const client = new DynamoDBClient({ ...LOCAL_AWS, endpoint: dynamo.url });
const ess = new EssClient({ credentials: async () => KEY, httpAgent, endpointOverride: emulator.url });
const providers = { aliyun: new EssProvider(ess), tencent: new EssProvider(ess) };
const published = new Map<string, number>();
const publisher = {
  publish: async (event: CompletionEvent) => void published.set(event.requestId, Date.now()),
};
const clock = { now: () => new Date() };
const dispatchSettings = {
  maxCallAttempts: 8,
  retry: { baseSeconds: 5, maxSeconds: 300 },
  activityHoldMs: 3_600_000,
  // The deployed defaults (HTTP connect 3 s, response 10 s).
  ...leaseFor({ connectTimeoutMs: 3_000, responseTimeoutMs: 10_000 }),
};
const sections = new Map<Part, string[]>();
let current: string[] = [];
const section = (part: Part) => {
  current = [];
  sections.set(part, current);
};
const report = (line: string) => {
  current.push(line);
  process.stdout.write(`${line}\n`);
};
const mib = (bytes: number) => `${Math.round(bytes / 2 ** 20)} MiB`;
const kb = (bytes: number) => `${Math.round(bytes / 1000)} KB`;

async function newLedger(name: string) {
  await createLedgerTable(dynamo.url, name);
  return new DynamoDbLedger(client, name);
}

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
    ...(coalesce ? {} : { requestsPerCall: 1 }),
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
  if (parts.has('p1')) {
    const on = await p1('on', true, 200);
    const off = await p1('off', false, 200);
    section('p1');
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
      'Goal: 10 calls (ceil(200/20): ESS takes 20 instance ids a call). Why 11: a group runs one activity at',
    );
    report(
      'a time, and the function dispatches its group the moment a request arrives. The first request finds',
    );
    report(
      'the group free and no one waiting, so it goes alone; the 199 that arrive while its activity runs wait',
    );
    report(
      'and leave in full calls of 20 as the group comes free: 1 + ceil(199/20) = 11. Holding the first request',
    );
    report('back to wait for company would save one call and cost every lone request that delay.');
    report('');
  }

  if (parts.has('p2')) {
    const load = loadavg()[0] ?? 0;
    const results = await measureClients();
    section('p2');
    report('## P2: CPU per call, our cloud clients against the official SDKs');
    report('');
    report(
      "The poller's call, 20 activity ids, one call at a time against the emulator in its own process, so that",
    );
    report("this process's CPU time (user + system, `process.cpuUsage`) is the client's alone: building and");
    report(
      'signing the request, HTTP, reading and parsing the answer (ours also validates it with zod). The same ids,',
    );
    report(
      `emulator and connection settings for both. ${P2_ROUNDS.rounds} rounds of ${P2_ROUNDS.calls} calls per client, the clients' rounds`,
    );
    report(
      'interleaved (ours, the SDK, ours, ...), after 50 calls of warm-up; medians of rounds. The spread: the',
    );
    report(
      "lowest and highest round, and the ratio of each round of ours to the SDK's round just after it. Load",
    );
    report(`average of the machine when the run began: ${load.toFixed(1)} (2 cores).`);
    report('');
    report('| call | client | CPU per call (median) | rounds (min-max) | calls/s | ours / SDK | per round |');
    report('|---|---|---|---|---|---|---|');
    const range = (values: readonly number[], digits = 0) =>
      `${Math.min(...values).toFixed(digits)}-${Math.max(...values).toFixed(digits)}`;
    for (const [i, r] of results.entries()) {
      const sdk = i % 2 === 0 ? results[i + 1] : undefined;
      const ratios = sdk
        ? r.cpuMicrosPerRound.map((cpu, n) => cpu / (sdk.cpuMicrosPerRound[n] as number))
        : [];
      const ratio = sdk
        ? ` ${(r.cpuMicrosPerCall / sdk.cpuMicrosPerCall).toFixed(2)} | ${range(ratios, 2)} |`
        : ' | |';
      report(
        `| ${r.cloud} | ${r.client} | ${Math.round(r.cpuMicrosPerCall)} µs | ${range(r.cpuMicrosPerRound)} µs | ${Math.round(r.callsPerSecond)} |${ratio}`,
      );
    }
    report('');
    for (let i = 0; i + 1 < results.length; i += 2) {
      const ours = results[i] as (typeof results)[number];
      const sdk = results[i + 1] as (typeof results)[number];
      const ratio = ours.cpuMicrosPerCall / sdk.cpuMicrosPerCall;
      report(
        `- ${ours.cloud}: ${ratio.toFixed(2)} of the SDK's CPU per call; goal 0.50: ${ratio <= 0.5 ? 'met' : `missed by ${Math.round(ours.cpuMicrosPerCall - 0.5 * sdk.cpuMicrosPerCall)} µs a call (see Goals below)`}.`,
      );
    }
    report('');
  }

  if (parts.has('p3')) {
    section('p3');
    report('## P3: poll passes over in-progress operations, one region');
    report('');
    for (const line of [
      'Operations written straight to a fresh ledger table on DynamoDB Local (each with its pending shard),',
      'each following its own activity in the emulator (in progress for 100 hours); then two passes of the',
      'real poller (`pollActivities`, the deployed concurrency 8) in a child process of its own: the poller',
      "bundled as the functions are (serverless.yml's esbuild settings), run by plain Node with the heap limits",
      "Lambda's Node.js runtime gives a 256 MB function (`--max-semi-space-size=12 --max-old-space-size=231`),",
      "so that its peak RSS (`getrusage` maxRSS; in brackets its RSS before the pass) is the poller's alone.",
      'Pass 1 sees every activity for the first time: every record has a new cloud progress to write (the',
      'ledger writes 100 in one TransactWriteItems). Pass 2 is the steady state: nothing moved, nothing',
      "written. CPU is the poller process's own (`process.cpuUsage`), not DynamoDB Local's or the emulator's.",
      "Describe calls as the poller counted them (and checked against the emulator's count). The last column",
      "is DynamoDB Local's share: pass 1's writes again, alone (same transactions, same concurrency).",
    ])
      report(line);
    report('');
    const verdicts: string[] = [];
    report(
      '| operations | pass | wall | poller CPU | Describe calls | items written (requests) | peak RSS of the poller | records/s | the writes alone |',
    );
    report('|---|---|---|---|---|---|---|---|---|');
    for (const count of [1_000, 10_000, 30_000, 100_000]) {
      const r = await measurePollPass(dynamo.url, emulator, count);
      for (const [name, pass] of [
        ['1 (first sight)', r.first],
        ['2 (steady)', r.second],
      ] as const) {
        const alone = pass === r.first ? `${seconds(r.store.wallMs)}` : '';
        report(
          `| ${count.toLocaleString('en')} | ${name} | ${seconds(pass.wallMs)} | ${seconds(pass.cpuMs)} | ${pass.describeCalls} | ${pass.itemsWritten} (${pass.writes}) | ${mib(pass.peakRssBytes)} (${mib(pass.rssBeforeBytes)}) | ${Math.round(pass.examined / (pass.wallMs / 1000))} | ${alone} |`,
        );
      }
      if (r.emulatorDescribeCalls !== r.first.describeCalls + r.second.describeCalls)
        report(`| ${count} | | the emulator counted ${r.emulatorDescribeCalls} Describe calls | | | | | | |`);
      verdicts.push(...p3Verdicts(r));
    }
    report('');
    for (const verdict of verdicts) report(`- ${verdict}`);
    report('');
  }

  if (parts.has('p4')) {
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
      const [p4Load = 0] = loadavg();
      const submitStarted = Date.now();
      // All at once: submitted one by one on a loaded machine, the first activities ended before the last began.
      await Promise.all(
        groups.map(async (g, i) => {
          const request = {
            requestId: `p4-${i}`,
            provider: 'aliyun' as const,
            region: REGION,
            scalingGroupId: g.scalingGroupId,
            instanceIds: [`i-p4-${i}`],
            preflight: false,
            dryRun: false,
          };
          await submitRequest(
            { ledger, publisher, providers, clock, ...dispatchSettings },
            'detach-instances',
            {
              body: request,
              messageId: request.requestId,
              receiveCount: 1,
            },
          );
        }),
      );
      const submitMs = Date.now() - submitStarted;
      // As deployed: short passes. An invocation a minute (the schedule) and, after each pass that leaves work
      // open, the next one when its next-pass message comes due (PollNextQueue's delay, sent as the pass ends).
      const deadline = Date.now() + 55_000;
      const scheduleEveryMs = 60_000;
      let scheduleAt = Date.now();
      let nextPassAt: number | undefined;
      while (
        Date.now() < deadline &&
        Array.from({ length: count }, (_, i) => `p4-${i}`).some((id) => !published.has(id))
      ) {
        const at = Math.min(scheduleAt, nextPassAt ?? Number.POSITIVE_INFINITY);
        await sleep(Math.max(0, at - Date.now()));
        if (at === scheduleAt) scheduleAt += scheduleEveryMs;
        else nextPassAt = undefined;
        await pollRepeatedly(
          { ledger, publisher, providers, clock, timeoutMs: 3_600_000, concurrency: 8, ...dispatchSettings },
          {
            intervalMs,
            deadline: Date.now(),
            sleep: (ms) => sleep(ms),
            onWorkLeft: async () => {
              nextPassAt = Date.now() + P4_NEXT_PASS_DELAY_MS;
            },
          },
        );
      }
      const delays = [...emulator.ess.state.activities.values()]
        .filter((a) => a.scalingGroupId.startsWith('asg-p4-'))
        .map((a) => {
          const requestId = `p4-${a.scalingGroupId.slice('asg-p4-'.length)}`;
          return (published.get(requestId) ?? Number.NaN) - a.endsAt;
        });
      const seen = delays.filter((d) => !Number.isNaN(d));
      section('p4');
      report('## P4: activity end (emulator clock) to completion event, default poll settings');
      report('');
      report(
        'As deployed, short passes: an invocation a minute (the schedule), and each pass that leaves work open sends',
      );
      report(
        `the next one as a message its queue delays ${P4_NEXT_PASS_DELAY_MS / 1000} s (PollNextQueue's DelaySeconds: the interval, 5 s, less a second for`,
      );
      report(
        "the pass and the delivery); here the message's delivery is taken as instant. Goal: p95 under 5 s, as the",
      );
      report('README states: one interval, plus the pass that sees it.');
      report(
        `Submitting the 40 requests (which starts their activities) took ${(submitMs / 1000).toFixed(1)} s; load average ${p4Load.toFixed(1)} (2 cores).`,
      );
      report('');
      report('| measure | result | goal |');
      report('|---|---|---|');
      report(`| operations | ${count} (activities of 2 to 39 s, ending spread over 37 s) | |`);
      report(`| events seen | ${seen.length} | ${count} |`);
      report(`| p50 delay | ${(percentile(seen, 50) / 1000).toFixed(1)} s | |`);
      report(`| p95 delay | ${(percentile(seen, 95) / 1000).toFixed(1)} s | under 5 s |`);
      report(`| max delay | ${(Math.max(...seen) / 1000).toFixed(1)} s | |`);
      report('');
    }
  }

  if (parts.has('p5')) {
    const [loadBefore = 0] = loadavg();
    const { results, nodeOptions, pollerEnv } = await measureBundles();
    const variants = await measureVariants(pollerEnv);
    const [loadAfter = 0] = loadavg();
    section('p5');
    report('## P5: the packaged functions');
    report('');
    report(
      "`serverless package --stage prod`, each zip as written; init is the time to import the function's",
    );
    report(
      'bundle (module init: our code, the SDK clients, the composition root) in a fresh Node process with the',
    );
    report(`function's production environment from the template, median of ${P5_RUNS}.`);
    report(`Deployed NODE_OPTIONS: ${nodeOptions ? `\`${nodeOptions}\`` : 'none'}.`);
    report(
      `Load average of the machine (2 cores) when the measure began and ended: ${loadBefore.toFixed(1)} and ${loadAfter.toFixed(1)}.`,
    );
    report('');
    report(
      'Ratio: the init against a minimal Powertools function (Logger, Metrics, one DynamoDB client, middy;',
    );
    report(
      "`bench/p5-minimal-function.ts`) bundled the same way, its imports interleaved with each function's (goal 1.2x).",
    );
    report('');
    report('| function | zip | bundle | init | minimal function | ratio | goal |');
    report('|---|---|---|---|---|---|---|');
    for (const r of results) {
      report(
        `| ${r.name} | ${kb(r.zipBytes)} | ${kb(r.jsBytes)}${r.mapBytes ? ` (+ ${kb(r.mapBytes)} map)` : ''} | ${Math.round(r.initMs)} ms | ${Math.round(r.minimalInitMs)} ms | ${(r.initMs / r.minimalInitMs).toFixed(2)}x | zip < 500 KB, init < 100 ms, ratio <= 1.2x |`,
      );
    }
    report('');
    const overRatio = results.filter((r) => r.initMs / r.minimalInitMs > 1.2);
    report(
      `- ratio <= 1.2x: ${overRatio.length === 0 ? 'met by every function' : `missed by ${overRatio.map((r) => `${r.name} (${(r.initMs / r.minimalInitMs).toFixed(2)}x)`).join(', ')}`}.`,
    );
    const bigZips = results.filter((r) => r.zipBytes >= 500_000);
    const slowInits = results.filter((r) => r.initMs >= 100);
    report(
      `- zip < 500 KB: ${bigZips.length === 0 ? `met by every function (largest ${kb(Math.max(...results.map((r) => r.zipBytes)))})` : `missed by ${bigZips.map((r) => `${r.name} (${kb(r.zipBytes - 500_000)} over)`).join(', ')}`}.`,
    );
    report(
      `- init < 100 ms: ${slowInits.length === 0 ? 'met by every function' : `missed by ${slowInits.map((r) => `${r.name} (${Math.round(r.initMs - 100)} ms over)`).join(', ')}; met by ${results.length - slowInits.length} of ${results.length} (see Goals below)`}.`,
    );
    report('');
    report(
      `The choices, measured on the poller's bundle, one change at a time (same method, median of ${P5_RUNS}):`,
    );
    report('');
    report('| poller bundle | zip | bundle | init |');
    report('|---|---|---|---|');
    for (const v of variants)
      report(`| ${v.variant} | ${kb(v.zipBytes)} | ${kb(v.jsBytes)} | ${Math.round(v.initMs)} ms |`);
    report('');
  }
  if (parts.has('p6')) {
    const lines = await reportCosts();
    section('p6');
    for (const line of lines) report(line);
  }
} finally {
  await httpAgent.close();
  await emulator.close();
  await dynamo.stop();
}

/** P3's goals: 10,000 in one pass < 5 s; 100,000 < 30 s, linear in the count; the poller < 256 MB at 100,000. */
function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}

function p3Verdicts(r: Awaited<ReturnType<typeof measurePollPass>>): string[] {
  const n = r.count.toLocaleString('en');
  const out: string[] = [];
  const goal = r.count === 10_000 ? 5_000 : r.count === 100_000 ? 30_000 : undefined;
  if (goal !== undefined) {
    for (const [name, pass] of [
      ['first-sight', r.first],
      ['steady', r.second],
    ] as const) {
      const store =
        pass === r.first
          ? `; DynamoDB Local took ${seconds(r.store.wallMs)} for its ${pass.itemsWritten} writes alone, the poller ${seconds(pass.cpuMs)} of CPU`
          : '';
      out.push(
        `${n}, ${name} pass: ${seconds(pass.wallMs)} against < ${seconds(goal)}: ${pass.wallMs < goal ? 'met' : `missed by ${seconds(pass.wallMs - goal)}`}${store}.`,
      );
    }
  }
  if (r.count === 100_000) {
    // Lambda's "256 MB" is 256 MiB.
    const peak = Math.max(r.first.peakRssBytes, r.second.peakRssBytes);
    out.push(
      `${n}, the poller's peak RSS: ${mib(peak)} against < 256 MiB: ${peak < 256 * 2 ** 20 ? 'met' : `missed by ${mib(peak - 256 * 2 ** 20)}`}.`,
    );
  }
  return out;
}

/** The sections of BENCHMARKS.md by part, as last written, so that a partial run keeps the others. */
function previousSections(): Map<string, string> {
  const path = new URL('../BENCHMARKS.md', import.meta.url);
  const kept = new Map<string, string>();
  if (!existsSync(path)) return kept;
  for (const chunk of readFileSync(path, 'utf8').split(/^(?=## )/m)) {
    const part = /^## (P\d|Goals)\b/.exec(chunk)?.[1]?.toLowerCase();
    if (part) kept.set(part, chunk.trimEnd());
  }
  return kept;
}

// "## Goals ..." is written by people (why a goal is missed, what was decided on which figures): kept as is.
const kept = previousSections();
const body = [
  ...PARTS.map((part) => sections.get(part)?.join('\n').trimEnd() ?? kept.get(part)),
  kept.get('goals'),
]
  .filter((text): text is string => text !== undefined)
  .join('\n\n');
writeFileSync(
  new URL('../BENCHMARKS.md', import.meta.url),
  `# Benchmarks

Produced by \`npm run bench\` (\`tsx bench/run.ts\`; \`npm run bench -- p3 p5\` runs only those parts and keeps the
others' sections), last on ${new Date().toISOString().slice(0, 10)} (${[...sections.keys()].join(', ')}), on this project's
CI-sized machine: 2 cores, shared with other work, so times vary by 20-30 % between runs. Real parts: DynamoDB
Local, the cloud emulator over HTTP, the real ledger, clients and poller; in P1 and P4 completion events go to an
in-process recorder that notes when each was published. Each section says how it measures.

${body}
`,
);
process.exit(0);
