import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { BatchWriteCommand, DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { build } from 'esbuild';
import type { startEmulator } from '../emulator/server.ts';
import { createLedgerTable, LOCAL_AWS } from '../local/services.ts';
import { chunk, mapLimit } from '../shared/detach/collections.ts';
import type { OperationRecord } from '../shared/detach/ports.ts';
import { pendingShardOf } from '../shared/ledger/dynamodb-ledger.ts';
import { functionBuildOptions } from '../support/function-build.ts';

const run = promisify(execFile);
const REGION = 'cn-hangzhou';

/**
 * The heap limits Lambda's Node.js runtime gives a 256 MB function (its bootstrap: new space a tenth of the
 * memory, semi-space half of that, old space the rest), so that the poller's peak RSS is measured as it would
 * collect in such a function; without them V8, with this machine's 24 GB, grows the heap long before collecting.
 */
export const LAMBDA_256_MB_FLAGS = ['--max-semi-space-size=12', '--max-old-space-size=231'];

/**
 * The child bundled as the functions are (serverless.yml's esbuild settings and plugins) and run by plain
 * Node, so that its memory is the poller's code, not tsx's compiler.
 */
async function bundledPollChild(): Promise<{ file: string; remove: () => void }> {
  const dir = mkdtempSync(join(tmpdir(), 'p3-poll-child-'));
  const file = join(dir, 'p3-poll-child.mjs');
  await build({
    ...(await functionBuildOptions()),
    entryPoints: [new URL('./p3-poll-child.ts', import.meta.url).pathname],
    outfile: file,
    logLevel: 'error',
  });
  return { file, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

interface PassResult {
  wallMs: number;
  cpuMs: number;
  examined: number;
  open: number;
  describeCalls: number;
  failedBatches: number;
  failedItems: number;
  writes: number;
  itemsWritten: number;
  commands: Record<string, number>;
  rssBeforeBytes: number;
  peakRssBytes: number;
}

export interface PollPassResult {
  count: number;
  first: PassResult;
  second: PassResult;
  /** The first pass's progress writes alone (DynamoDB Local's share of that pass). */
  store: { wallMs: number; items: number };
  /** DescribeScalingActivities calls the emulator answered during both passes. */
  emulatorDescribeCalls: number;
  seedSeconds: number;
}

/**
 * P3: `count` IN_PROGRESS operations, each following its own activity in one region, written straight to a
 * fresh ledger table (with their pending shard, as the ledger writes them) and to the emulator's state (starting
 * them through the API would need as many groups); then two passes of the real poller in a child process.
 */
export async function measurePollPass(
  dynamoUrl: string,
  emulator: Awaited<ReturnType<typeof startEmulator>>,
  count: number,
): Promise<PollPassResult> {
  const table = `bench-p3-${count}`;
  await createLedgerTable(dynamoUrl, table);
  const client = new DynamoDBClient({ ...LOCAL_AWS, endpoint: dynamoUrl, maxAttempts: 10 });
  const documents = DynamoDBDocumentClient.from(client);
  const seedStarted = performance.now();
  const now = Date.now();
  const state = emulator.ess.state;
  const records: OperationRecord[] = [];
  for (let i = 0; i < count; i++) {
    const activityId = `asa-p3-${count}-${String(i).padStart(6, '0')}`;
    state.activities.set(activityId, {
      id: activityId,
      scalingGroupId: `asg-p3-${count}-${i}`,
      regionId: REGION,
      action: 'DetachInstances',
      instanceIds: [`i-p3-${count}-${i}`],
      startedAt: now,
      // 100 hours: its progress moves 1 % an hour, so a second pass sees nothing new however long the first took.
      endsAt: now + 360_000_000,
      outcome: { status: 'Successful' },
      settled: false,
      decreaseDesiredCapacity: true,
      description: 'bench',
      ignoredInstanceIds: [],
      detachFromBalancers: false,
      destroyed: [],
      stopped: [],
    });
    const requestId = `p3-${count}-${i}`;
    records.push({
      requestId,
      action: 'detach-instances',
      status: 'IN_PROGRESS',
      request: {
        requestId,
        provider: 'aliyun',
        region: REGION,
        scalingGroupId: `asg-p3-${count}-${i}`,
        instanceIds: [`i-p3-${count}-${i}`],
        preflight: true,
        dryRun: false,
      },
      activityId,
      attempts: 1,
      createdAt: new Date(now).toISOString(),
      updatedAt: new Date(now).toISOString(),
      submittedAt: new Date(now).toISOString(),
      pendingShard: pendingShardOf(requestId),
    } as OperationRecord & { pendingShard: string });
  }
  await mapLimit(chunk(records, 25), 8, async (batch) => {
    let pending = batch.map((Item) => ({ PutRequest: { Item } }));
    while (pending.length > 0) {
      const { UnprocessedItems } = await documents.send(
        new BatchWriteCommand({ RequestItems: { [table]: pending } }),
      );
      pending = (UnprocessedItems?.[table] ?? []) as typeof pending;
    }
  });
  records.length = 0;
  const seedSeconds = (performance.now() - seedStarted) / 1000;
  client.destroy();

  const callsBefore = emulator.calls.length;
  // P3_NODE_FLAGS replaces the 256 MB function's heap limits (e.g. with none: P3_NODE_FLAGS=' ').
  const flags = (process.env.P3_NODE_FLAGS ?? LAMBDA_256_MB_FLAGS.join(' ')).split(' ').filter(Boolean);
  const child = await bundledPollChild();
  const { stdout } = await run(process.execPath, [...flags, child.file], {
    env: {
      ...process.env,
      P3_DYNAMODB_URL: dynamoUrl,
      P3_EMULATOR_URL: emulator.url,
      P3_TABLE: table,
      P3_COUNT: String(count),
    },
    maxBuffer: 16 * 1024 * 1024,
  }).finally(child.remove);
  const emulatorDescribeCalls = emulator.calls
    .slice(callsBefore)
    .filter((c) => c.action === 'DescribeScalingActivities').length;
  // The emulator keeps what it was given; the next size starts from a clean state.
  for (let i = 0; i < count; i++) state.activities.delete(`asa-p3-${count}-${String(i).padStart(6, '0')}`);
  emulator.calls.length = callsBefore;
  const { first, second, store } = JSON.parse(stdout) as Pick<PollPassResult, 'first' | 'second' | 'store'>;
  return { count, first, second, store, emulatorDescribeCalls, seedSeconds };
}
