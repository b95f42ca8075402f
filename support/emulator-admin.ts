import { randomBytes } from 'node:crypto';
import { request } from 'undici';
import type { EmulatorSeed, Fault } from '../emulator/seed.ts';
import { ADMIN_TOKEN_HEADER, DEFAULT_ADMIN_TOKEN } from '../emulator/server.ts';
import { EssClient } from '../shared/providers/aliyun/ess-client.ts';
import { createHttpAgent } from '../shared/providers/http.ts';

type SeedInput = {
  credentials?: EmulatorSeed['credentials'];
  tencent?: {
    groups?: Partial<EmulatorSeed['tencent']['groups'][number]>[];
    instances?: Partial<EmulatorSeed['tencent']['instances'][number]>[];
  };
  aliyun?: {
    scalingGroups?: Partial<EmulatorSeed['aliyun']['scalingGroups'][number]>[];
    instances?: Partial<EmulatorSeed['aliyun']['instances'][number]>[];
  };
};

/** The emulator's admin API, as tests use it. */
export class EmulatorAdmin {
  constructor(
    readonly url: string,
    readonly token = DEFAULT_ADMIN_TOKEN,
  ) {}

  /** The headers every admin route but health wants. */
  get headers(): Record<string, string> {
    return { [ADMIN_TOKEN_HEADER]: this.token };
  }

  async add(seed: SeedInput): Promise<void> {
    await this.post('/admin/seed/add', seed);
  }

  async inject(...faults: (Partial<Fault> & Pick<Fault, 'scalingGroupId'>)[]): Promise<void> {
    await this.post(
      '/admin/faults',
      faults.map((fault) => ({ times: 1, ...fault })),
    );
  }

  /** Clears every injected fault: only on an emulator of the test's own (it clears other tests' too). */
  async clearFaults(): Promise<void> {
    await (await request(`${this.url}/admin/faults`, { method: 'DELETE' })).body.dump();
  }

  async state(): Promise<{
    aliyun: {
      scalingGroups: { scalingGroupId: string; desiredCapacity: number; lifecycleState: string }[];
      instances: { instanceId: string; scalingGroupId?: string; lifecycleState: string; status: string }[];
      activities: {
        id: string;
        scalingGroupId: string;
        action: string;
        instanceIds: string[];
        settled: boolean;
        startedAt: number;
        endsAt: number;
      }[];
      backends: Record<string, string[]>;
    };
    tencent: {
      instances: {
        instanceId: string;
        autoScalingGroupId?: string;
        lifeCycleState: string;
        status: string;
      }[];
      activities: { id: string; groupId: string; type: string; settled: boolean }[];
    };
  }> {
    return (await (await request(`${this.url}/admin/state`, { headers: this.headers })).body.json()) as never;
  }

  async calls(filter: { action?: string; scalingGroupId?: string } = {}) {
    const { calls } = (await (
      await request(`${this.url}/admin/calls`, { headers: this.headers })
    ).body.json()) as {
      calls: {
        action: string;
        status: number;
        code?: string;
        signature: string;
        params: Record<string, string>;
      }[];
    };
    return calls.filter(
      (call) =>
        (!filter.action || call.action === filter.action) &&
        (!filter.scalingGroupId || call.params.ScalingGroupId === filter.scalingGroupId),
    );
  }

  /** Random faults on every call until stopChaos (emulator/README.md, POST /admin/chaos). */
  async chaos(config: {
    seed?: number;
    rates: Partial<Record<'throttle' | 'serverError' | 'dropBefore' | 'dropAfter' | 'slow', number>>;
    slowMs?: number;
    actions?: string[];
  }): Promise<void> {
    await this.post('/admin/chaos', config);
  }

  /** What chaos injected so far, by fault. */
  async chaosStatus(): Promise<{ enabled: boolean; calls?: number; injected?: Record<string, number> }> {
    return (await (await request(`${this.url}/admin/chaos`, { headers: this.headers })).body.json()) as never;
  }

  async stopChaos(): Promise<void> {
    await (await request(`${this.url}/admin/chaos`, { method: 'DELETE', headers: this.headers })).body.dump();
  }

  private async post(path: string, body: unknown): Promise<void> {
    const response = await request(`${this.url}${path}`, {
      method: 'POST',
      headers: { ...this.headers, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    const text = await response.body.text();
    if (response.statusCode !== 200) throw new Error(`${path} answered ${response.statusCode}: ${text}`);
  }
}

export const uniqueId = (prefix: string) => `${prefix}-${randomBytes(6).toString('hex')}`;

export const EMULATOR_KEY = { accessKeyId: 'LTAI-emulator-key', accessKeySecret: 'emulator-secret' };
/** The default seed's root key: no policies, so it may assume any role (tests of roles outside docs/policies/). */
export const EMULATOR_ROOT_KEY = {
  accessKeyId: 'LTAI-emulator-root-key',
  accessKeySecret: 'emulator-root-secret',
};
export const READONLY_KEY = { accessKeyId: 'LTAI-readonly-key', accessKeySecret: 'readonly-secret' };

export interface GroupOptions {
  region?: string;
  instances?: number;
  minSize?: number;
  lifecycleState?: 'Active' | 'Inactive';
  loadBalancers?: { id: string; status: string }[];
  dbInstances?: { id: string; status: string }[];
  activityDurationMs?: number;
  activityOutcomes?: { status: 'Successful' | 'Warning' | 'Failed' | 'Rejected'; message?: string }[];
  unauthorizedActions?: string[];
  scalingPolicy?: 'recycle' | 'release';
  vServerGroups?: { loadBalancerId: string; vServerGroupId: string; port: number }[];
  albServerGroups?: { albServerGroupId: string; port: number }[];
  /** Creation type of each instance, in order (AutoCreated when not given). */
  creationTypes?: ('AutoCreated' | 'Attached')[];
}

/** A fresh scaling group of its own in the shared emulator, with `instances` AutoCreated members. */
export async function aScalingGroup(admin: EmulatorAdmin, options: GroupOptions = {}) {
  const scalingGroupId = uniqueId('asg');
  const region = options.region ?? 'cn-hangzhou';
  const instanceIds = Array.from({ length: options.instances ?? 3 }, () => uniqueId('i'));
  await admin.add({
    aliyun: {
      scalingGroups: [
        {
          scalingGroupId,
          regionId: region,
          minSize: options.minSize ?? 0,
          maxSize: 100,
          lifecycleState: options.lifecycleState ?? 'Active',
          loadBalancers: options.loadBalancers ?? [],
          dbInstances: options.dbInstances ?? [],
          activityDurationMs: options.activityDurationMs ?? 300,
          activityOutcomes: options.activityOutcomes ?? [],
          unauthorizedActions: options.unauthorizedActions ?? [],
          scalingPolicy: options.scalingPolicy ?? 'release',
          vServerGroups: options.vServerGroups ?? [],
          albServerGroups: options.albServerGroups ?? [],
        },
      ],
      instances: instanceIds.map((instanceId, i) => ({
        instanceId,
        scalingGroupId,
        creationType: options.creationTypes?.[i] ?? 'AutoCreated',
      })),
    },
  });
  return { scalingGroupId, region, instanceIds };
}

/** A valid detach-instances request for a group made by aScalingGroup: its first instance unless told otherwise. */
export const aDetachRequest = (
  group: { scalingGroupId: string; region: string; instanceIds: string[] },
  overrides: Record<string, unknown> = {},
) => ({
  requestId: uniqueId('req'),
  provider: 'aliyun',
  region: group.region,
  scalingGroupId: group.scalingGroupId,
  instanceIds: group.instanceIds.slice(0, 1),
  ...overrides,
});

/**
 * Starts an activity on the group behind our back (straight through the ESS API, as another tool would), on
 * its last instance.
 */
export async function startOutsideActivity(
  emulatorUrl: string,
  group: { region: string; scalingGroupId: string; instanceIds: string[] },
) {
  const httpAgent = createHttpAgent();
  const ess = new EssClient({
    credentials: async () => EMULATOR_KEY,
    httpAgent,
    endpointOverride: emulatorUrl,
  });
  try {
    await ess.detachInstances({
      region: group.region,
      scalingGroupId: group.scalingGroupId,
      instanceIds: [group.instanceIds.at(-1) as string],
    });
  } finally {
    await httpAgent.close();
  }
}
