import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { LOCAL_AWS } from '../local/services.ts';
import { chunk, mapLimit } from '../shared/detach/collections.ts';
import { leaseFor } from '../shared/detach/dispatch.ts';
import { pollActivities } from '../shared/detach/poll.ts';
import { DynamoDbLedger } from '../shared/ledger/dynamodb-ledger.ts';
import { EssClient } from '../shared/providers/aliyun/ess-client.ts';
import { EssProvider } from '../shared/providers/aliyun/ess-provider.ts';
import { createHttpAgent } from '../shared/providers/http.ts';

/**
 * P3's poller, alone in its process (so that its peak RSS is the poller's, not the emulator's or the seed's):
 * the real ledger on DynamoDB Local, the real ESS client and provider against the emulator, the deployed
 * concurrency. Passes twice over the same records: the first sees every activity for the first time (each
 * record's cloud progress is new and written), the second sees what a steady poller sees. Prints one JSON line
 * with each pass's wall and CPU time (this process's: the poller's own work, not DynamoDB Local's or the
 * emulator's), its writes by command and its peak RSS.
 */
const setting = (name: string): string => {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set (bench/p3-poll-pass.ts sets it)`);
  return value;
};
const P3_DYNAMODB_URL = setting('P3_DYNAMODB_URL');
const P3_EMULATOR_URL = setting('P3_EMULATOR_URL');
const P3_TABLE = setting('P3_TABLE');
const WRITES = new Set([
  'UpdateItemCommand',
  'PutItemCommand',
  'BatchWriteItemCommand',
  'TransactWriteItemsCommand',
]);

const P3_COUNT = Number(setting('P3_COUNT'));
const commands = new Map<string, number>();
let itemsWritten = 0;
const client = new DynamoDBClient({ ...LOCAL_AWS, endpoint: P3_DYNAMODB_URL, maxAttempts: 10 });
client.middlewareStack.add(
  (next, context) => (args) => {
    const name = context.commandName ?? 'unknown';
    commands.set(name, (commands.get(name) ?? 0) + 1);
    if (WRITES.has(name)) {
      const input = args.input as { TransactItems?: unknown[]; RequestItems?: Record<string, unknown[]> };
      itemsWritten +=
        input.TransactItems?.length ??
        (input.RequestItems
          ? Object.values(input.RequestItems).reduce((n, items) => n + items.length, 0)
          : 1);
    }
    return next(args);
  },
  { step: 'initialize', name: 'countCommands' },
);
const httpAgent = createHttpAgent();
const ess = new EssClient({
  credentials: async () => ({ accessKeyId: 'LTAI-emulator-key', accessKeySecret: 'emulator-secret' }),
  httpAgent,
  endpointOverride: P3_EMULATOR_URL,
});
const provider = new EssProvider(ess);
let published = 0;
const deps = {
  ledger: new DynamoDbLedger(client, P3_TABLE),
  publisher: { publish: async () => void published++ },
  providers: { aliyun: provider, tencent: provider },
  clock: { now: () => new Date() },
  timeoutMs: 7_200_000,
  // The deployed POLL_CONCURRENCY and HTTP timeouts.
  concurrency: 8,
  maxCallAttempts: 8,
  retry: { baseSeconds: 5, maxSeconds: 300 },
  activityHoldMs: 3_600_000,
  ...leaseFor({ connectTimeoutMs: 3_000, responseTimeoutMs: 10_000 }),
};

async function pass() {
  commands.clear();
  itemsWritten = 0;
  const rssBefore = process.memoryUsage().rss;
  const cpuBefore = process.cpuUsage();
  const started = performance.now();
  const summary = await pollActivities(deps);
  const wallMs = performance.now() - started;
  const cpu = process.cpuUsage(cpuBefore);
  const writes = [...commands].filter(([name]) => WRITES.has(name)).reduce((sum, [, n]) => sum + n, 0);
  return {
    wallMs,
    cpuMs: (cpu.user + cpu.system) / 1000,
    examined: summary.examined,
    open: summary.open,
    describeCalls: summary.describeCalls,
    failedBatches: summary.failedBatches.length,
    failedItems: summary.failedItems.length,
    writes,
    itemsWritten,
    commands: Object.fromEntries(commands),
    rssBeforeBytes: rssBefore,
    // Peak resident set of this process since it started (getrusage ru_maxrss, KiB).
    peakRssBytes: process.resourceUsage().maxRSS * 1024,
  };
}

/**
 * The store's share: the first pass's progress writes again (a new value for every record), alone, in the
 * poller's transactions of 100 with as many in flight as the poller has batches: what DynamoDB Local takes for
 * them without any reading or Describe call.
 */
async function writesAlone() {
  const ids = Array.from({ length: P3_COUNT }, (_, i) => `p3-${P3_COUNT}-${i}`);
  const started = performance.now();
  await mapLimit(chunk(ids, 100), deps.concurrency, (part) =>
    deps.ledger.recordProgress(
      part.map((requestId) => ({ requestId, progress: { statusCode: 'InProgress', progress: 1 } })),
    ),
  );
  return { wallMs: performance.now() - started, items: ids.length };
}

const first = await pass();
const second = await pass();
const store = await writesAlone();
process.stdout.write(`${JSON.stringify({ first, second, store, published })}\n`);
await httpAgent.close();
client.destroy();
