import { randomBytes } from 'node:crypto';
import type { EmulatorSeed, SeedGroup, SeedInstance } from '../seed.ts';

export interface Activity {
  id: string;
  scalingGroupId: string;
  regionId: string;
  action: string;
  instanceIds: string[];
  startedAt: number;
  endsAt: number;
  outcome: { status: 'Successful' | 'Warning' | 'Failed' | 'Rejected'; message?: string };
  /** Set once the activity's effects were applied. */
  settled: boolean;
  decreaseDesiredCapacity: boolean;
  description: string;
  /** Ids the call named that were not in the group (IgnoreInvalidInstance=true): the activity ends Warning. */
  ignoredInstanceIds: string[];
}

export type Group = SeedGroup & { desiredCapacity: number };
export type Instance = SeedInstance;

export const newId = (prefix: string): string => `${prefix}-${randomBytes(8).toString('hex')}`;

/** The ESS world: groups, instances, activities, and what the idempotency and nonce checks remember. */
export class EssState {
  readonly groups = new Map<string, Group>();
  readonly instances = new Map<string, Instance>();
  readonly activities = new Map<string, Activity>();
  readonly defaultActivityDurationMs: number;

  constructor(seed: EmulatorSeed) {
    this.defaultActivityDurationMs = seed.activityDurationMs;
    this.add(seed);
  }

  /** Adds (or replaces, by id) the seed's groups and instances, leaving everything else as it is. */
  add(seed: EmulatorSeed): void {
    for (const instance of seed.aliyun.instances)
      this.instances.set(instance.instanceId, structuredClone(instance));
    for (const group of seed.aliyun.scalingGroups) {
      const desiredCapacity = group.desiredCapacity ?? this.membersOf(group.scalingGroupId).length;
      this.groups.set(group.scalingGroupId, structuredClone({ ...group, desiredCapacity }));
    }
  }

  membersOf(scalingGroupId: string): Instance[] {
    return [...this.instances.values()].filter((instance) => instance.scalingGroupId === scalingGroupId);
  }

  activityInProgress(scalingGroupId: string, now: number): Activity | undefined {
    this.settle(now);
    return [...this.activities.values()].find((a) => a.scalingGroupId === scalingGroupId && !a.settled);
  }

  startActivity(
    group: Group,
    action: string,
    instanceIds: string[],
    now: number,
    decreaseDesiredCapacity: boolean,
  ): Activity {
    const outcome = group.activityOutcomes.shift() ?? { status: 'Successful' as const };
    const duration = group.activityDurationMs ?? this.defaultActivityDurationMs;
    const activity: Activity = {
      id: newId('asa'),
      scalingGroupId: group.scalingGroupId,
      regionId: group.regionId,
      action,
      instanceIds,
      startedAt: now,
      endsAt: now + duration,
      outcome,
      settled: false,
      decreaseDesiredCapacity,
      description: `${action}: ${instanceIds.join(', ')}`,
      ignoredInstanceIds: [],
    };
    for (const id of instanceIds) {
      const instance = this.instances.get(id);
      if (instance) instance.lifecycleState = 'Removing';
    }
    this.activities.set(activity.id, activity);
    return activity;
  }

  /**
   * The instances an ended activity took out. A seeded Warning takes only the first (a partial success the
   * poller must report); a Warning from ignored invalid ids takes every valid one.
   */
  leavingOf(activity: Activity): string[] {
    if (!activity.settled) return [];
    const { status } = activity.outcome;
    if (status === 'Successful') return activity.instanceIds;
    if (status === 'Warning')
      return activity.ignoredInstanceIds.length > 0 ? activity.instanceIds : activity.instanceIds.slice(0, 1);
    return [];
  }

  /** Applies the effects of every activity whose time is up. Time is the real clock: tests wait, as users do. */
  settle(now: number): void {
    for (const activity of this.activities.values()) {
      if (activity.settled || activity.endsAt > now) continue;
      activity.settled = true;
      const group = this.groups.get(activity.scalingGroupId);
      const leaving = this.leavingOf(activity);
      for (const id of activity.instanceIds) {
        const instance = this.instances.get(id);
        if (!instance) continue;
        if (leaving.includes(id)) {
          delete instance.scalingGroupId;
          instance.lifecycleState = 'Detached';
        } else {
          instance.lifecycleState = 'InService';
        }
      }
      if (group && activity.decreaseDesiredCapacity) {
        group.desiredCapacity = Math.max(group.minSize, group.desiredCapacity - leaving.length);
      }
    }
  }
}
