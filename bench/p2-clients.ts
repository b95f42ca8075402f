import { type ChildProcess, spawn } from 'node:child_process';
import RPCClient from '@alicloud/pop-core';
import { freePort, stopChild, waitFor } from '../local/services.ts';
import { EssClient } from '../shared/providers/aliyun/ess-client.ts';
import { createHttpAgent } from '../shared/providers/http.ts';
import { TencentAsClient } from '../shared/providers/tencent/as-client.ts';
import { aScalingGroup, EMULATOR_KEY, EmulatorAdmin } from '../support/emulator-admin.ts';
import { aTencentGroup, TENCENT_KEY, tencentSdk } from '../support/tencent.ts';
import { median } from './stats.ts';

/**
 * P2: the CPU our cloud clients spend per call against the official SDKs, on the poller's call
 * (DescribeScalingActivities for 20 activity ids; DescribeAutoScalingActivities for 20), one call at a time.
 * The emulator runs in its own process, so this process's CPU time (user + system) is the client's alone:
 * building and signing the request, HTTP, reading and parsing the answer. Rounds of each client alternate
 * (ours, the SDK's, ours, ...), so that a busy moment of the shared machine falls on both; medians of the rounds,
 * and each round's figure kept, for the spread.
 */
const ACTIVITIES = 20;

export interface ClientResult {
  cloud: string;
  client: string;
  cpuMicrosPerCall: number;
  callsPerSecond: number;
  /** Each round's CPU per call, in the order run: round r of ours ran just before round r of the SDK. */
  cpuMicrosPerRound: number[];
}

async function round(call: () => Promise<unknown>, calls: number) {
  const cpu = process.cpuUsage();
  const started = performance.now();
  for (let i = 0; i < calls; i++) await call();
  const wall = performance.now() - started;
  const used = process.cpuUsage(cpu);
  return { cpu: (used.user + used.system) / calls, rate: calls / (wall / 1000) };
}

async function compare(
  cloud: string,
  clients: Record<string, () => Promise<unknown>>,
  rounds: number,
  calls: number,
): Promise<ClientResult[]> {
  const samples = new Map(
    Object.keys(clients).map((name) => [name, { cpu: [] as number[], rate: [] as number[] }]),
  );
  for (const call of Object.values(clients)) await round(call, 50); // warm-up: JIT, connections
  for (let r = 0; r < rounds; r++) {
    for (const [name, call] of Object.entries(clients)) {
      const { cpu, rate } = await round(call, calls);
      samples.get(name)?.cpu.push(cpu);
      samples.get(name)?.rate.push(rate);
    }
  }
  return [...samples].map(([client, s]) => ({
    cloud,
    client,
    cpuMicrosPerCall: median(s.cpu),
    callsPerSecond: median(s.rate),
    cpuMicrosPerRound: s.cpu,
  }));
}

export const P2_ROUNDS = { rounds: 11, calls: 300 };

export async function measureClients(options = P2_ROUNDS): Promise<ClientResult[]> {
  const port = await freePort();
  // Its own process group, so that stopChild ends it and what it started.
  const emulator: ChildProcess = spawn(process.execPath, ['emulator/bin.mjs', '--port', String(port)], {
    stdio: 'ignore',
    detached: true,
  });
  const url = `http://127.0.0.1:${port}`;
  const httpAgent = createHttpAgent();
  try {
    await waitFor('the cloud emulator', emulator, async () => (await fetch(`${url}/admin/health`)).ok);
    const admin = new EmulatorAdmin(url);
    const ess = new EssClient({ credentials: async () => EMULATOR_KEY, httpAgent, endpointOverride: url });
    const tencent = new TencentAsClient({
      credentials: async () => TENCENT_KEY,
      httpAgent,
      endpointOverride: url,
    });
    // Activities to describe: one detach in each of 20 groups, long enough to stay in progress.
    const essIds: string[] = [];
    const tencentIds: string[] = [];
    let region = 'cn-hangzhou';
    for (let i = 0; i < ACTIVITIES; i++) {
      const group = await aScalingGroup(admin, { instances: 2, activityDurationMs: 3_600_000 });
      region = group.region;
      const detached = await ess.detachInstances({
        region: group.region,
        scalingGroupId: group.scalingGroupId,
        instanceIds: group.instanceIds.slice(0, 1),
      });
      essIds.push(detached.scalingActivityId as string);
      const tgroup = await aTencentGroup(admin, { instances: 2, activityDurationMs: 3_600_000 });
      tencentIds.push(
        await tencent.detachInstances(tgroup.region, tgroup.scalingGroupId, tgroup.instanceIds.slice(0, 1)),
      );
    }
    const popCore = new RPCClient({ ...EMULATOR_KEY, endpoint: url, apiVersion: '2014-08-28' });
    const essParams = {
      RegionId: region,
      PageSize: 50,
      ...Object.fromEntries(essIds.map((id, i) => [`ScalingActivityId.${i + 1}`, id])),
    };
    const sdk = tencentSdk(url);
    return [
      ...(await compare(
        'ESS DescribeScalingActivities (20 ids)',
        {
          'ours (EssClient)': () => ess.describeScalingActivities(region, essIds),
          '@alicloud/pop-core': () =>
            popCore.request('DescribeScalingActivities', essParams, { method: 'POST' }),
        },
        options.rounds,
        options.calls,
      )),
      ...(await compare(
        'Tencent DescribeAutoScalingActivities (20 ids)',
        {
          'ours (TencentAsClient)': () => tencent.describeActivities('ap-guangzhou', tencentIds),
          'tencentcloud-sdk-nodejs': () =>
            sdk.DescribeAutoScalingActivities({ ActivityIds: tencentIds, Limit: 100 }),
        },
        options.rounds,
        options.calls,
      )),
    ];
  } finally {
    await httpAgent.close();
    await stopChild(emulator);
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  for (const result of await measureClients(process.env.P2_QUICK ? { rounds: 3, calls: 200 } : undefined))
    process.stdout.write(`${JSON.stringify(result)}\n`);
}
