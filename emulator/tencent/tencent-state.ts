import { randomBytes } from 'node:crypto';
import type { EmulatorSeed, TencentSeedGroup, TencentSeedInstance } from '../seed.ts';

export type TencentActivityStatus =
  | 'INIT'
  | 'RUNNING'
  | 'SUCCESSFUL'
  | 'PARTIALLY_SUCCESSFUL'
  | 'FAILED'
  | 'CANCELLED';

export interface TencentActivity {
  id: string;
  groupId: string;
  region: string;
  type: 'DETACH_INSTANCES' | 'REMOVE_INSTANCES';
  instanceIds: string[];
  /** Terminate the auto-created instances that leave (RemoveInstances; v2 DetachInstance with keepInstance 0). */
  terminate: boolean;
  startedAt: number;
  endsAt: number;
  outcome: Exclude<TencentActivityStatus, 'INIT' | 'RUNNING'>;
  settled: boolean;
}

export type TencentGroup = TencentSeedGroup & { desiredCapacity: number; createdAt: number };
/** A seed may only place an instance in a state a group has; the world also has DETACHED ones. */
export type TencentInstance = Omit<TencentSeedInstance, 'lifeCycleState'> & {
  lifeCycleState: string;
  addedAt: number;
};

const newId = (prefix: string) => `${prefix}-${randomBytes(4).toString('hex')}`;

/** The Tencent AS world: groups, instances and activities, shared by the v2 and API 3.0 endpoints. */
export class TencentState {
  readonly groups = new Map<string, TencentGroup>();
  readonly instances = new Map<string, TencentInstance>();
  readonly activities = new Map<string, TencentActivity>();
  /** Activity ids by group, in start order: Describe calls and the in-activity check read one group's only. */
  readonly #byGroup = new Map<string, string[]>();
  /** Activities not yet settled: settle() visits only these. */
  readonly #running = new Set<TencentActivity>();

  constructor(
    seed: EmulatorSeed,
    private readonly defaultDurationMs: number,
    private readonly now: () => number = Date.now,
  ) {
    this.add(seed);
  }

  add(seed: EmulatorSeed): void {
    const now = this.now();
    for (const instance of seed.tencent.instances)
      this.instances.set(instance.instanceId, { ...structuredClone(instance), addedAt: now });
    for (const group of seed.tencent.groups) {
      const desiredCapacity = group.desiredCapacity ?? this.membersOf(group.autoScalingGroupId).length;
      this.groups.set(group.autoScalingGroupId, {
        ...structuredClone(group),
        desiredCapacity,
        createdAt: now,
      });
    }
  }

  membersOf(groupId: string): TencentInstance[] {
    return [...this.instances.values()].filter((instance) => instance.autoScalingGroupId === groupId);
  }

  activitiesOf(groupId: string): TencentActivity[] {
    return (this.#byGroup.get(groupId) ?? []).map((id) => this.activities.get(id) as TencentActivity);
  }

  inActivity(groupId: string, now: number): boolean {
    this.settle(now);
    return this.activitiesOf(groupId).some((activity) => !activity.settled);
  }

  start(
    group: TencentGroup,
    type: TencentActivity['type'],
    instanceIds: string[],
    terminate: boolean,
    now: number,
  ): TencentActivity {
    const activity: TencentActivity = {
      id: newId('asa'),
      groupId: group.autoScalingGroupId,
      region: group.region,
      type,
      instanceIds,
      terminate,
      startedAt: now,
      endsAt: now + (group.activityDurationMs ?? this.defaultDurationMs),
      outcome: group.activityOutcomes.shift() ?? 'SUCCESSFUL',
      settled: false,
    };
    for (const id of instanceIds) {
      const instance = this.instances.get(id);
      if (instance) instance.lifeCycleState = 'DETACHING';
    }
    this.activities.set(activity.id, activity);
    const ids = this.#byGroup.get(group.autoScalingGroupId);
    if (ids) ids.push(activity.id);
    else this.#byGroup.set(group.autoScalingGroupId, [activity.id]);
    this.#running.add(activity);
    return activity;
  }

  /** Instances the activity took out: all on success, the first on partial success, none otherwise. */
  succeededOf(activity: TencentActivity): string[] {
    if (activity.outcome === 'SUCCESSFUL') return activity.instanceIds;
    if (activity.outcome === 'PARTIALLY_SUCCESSFUL') return activity.instanceIds.slice(0, 1);
    return [];
  }

  statusOf(activity: TencentActivity, now: number): TencentActivityStatus {
    if (activity.settled) return activity.outcome;
    return now - activity.startedAt < 100 ? 'INIT' : 'RUNNING';
  }

  settle(now: number): void {
    for (const activity of this.#running) {
      if (activity.endsAt > now) continue;
      this.#running.delete(activity);
      activity.settled = true;
      const succeeded = new Set(this.succeededOf(activity));
      for (const id of activity.instanceIds) {
        const instance = this.instances.get(id);
        if (!instance) continue;
        if (!succeeded.has(id)) {
          instance.lifeCycleState = activity.type === 'DETACH_INSTANCES' ? 'DETACH_FAILED' : 'IN_SERVICE';
          continue;
        }
        delete instance.autoScalingGroupId;
        instance.lifeCycleState = 'DETACHED';
        // Manually attached instances are never terminated (seed rule 1; API 3.0 RemoveInstances alike).
        if (activity.terminate && instance.creationType === 'AUTO_CREATION') instance.status = 'TERMINATED';
      }
      const group = this.groups.get(activity.groupId);
      if (group) group.desiredCapacity = Math.max(group.minSize, group.desiredCapacity - succeeded.size);
    }
  }
}
