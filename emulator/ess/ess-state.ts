import { randomBytes } from 'node:crypto';
import type { EmulatorSeed, SeedGroup, SeedInstance } from '../seed.ts';

export type ActivityStatus = 'Successful' | 'Warning' | 'Failed' | 'Rejected';

export interface Activity {
  id: string;
  scalingGroupId: string;
  regionId: string;
  action: string;
  instanceIds: string[];
  startedAt: number;
  endsAt: number;
  /** As the seed declared it (its `activityOutcomes`). */
  outcome: SeedGroup['activityOutcomes'][number];
  /** Set once the activity's effects were applied. */
  settled: boolean;
  decreaseDesiredCapacity: boolean;
  description: string;
  /** Ids the call named that were not in the group (IgnoreInvalidInstance=true): the activity ends Warning. */
  ignoredInstanceIds: string[];
  /** RemoveInstances, and DetachInstances with DetachOption=both: leaving instances also leave the server groups. */
  detachFromBalancers: boolean;
  /** RemoveInstances: what happens to the ECS instances that leave. */
  removePolicy?: 'release' | 'recycle';
  /** Effects beyond instances leaving (server groups taken out with ForceDetach). */
  onSuccess?: () => void;
  /** Filled on settle: instances released (destroyed) and recycled (stopped). */
  destroyed: string[];
  stopped: string[];
}

export type Group = SeedGroup & { desiredCapacity: number; createdAt: number };
/** A seed may only place an instance in a state a group has; the world also has Detached ones. */
export type Instance = Omit<SeedInstance, 'lifecycleState'> & { lifecycleState: string; addedAt: number };

export const newId = (prefix: string): string => `${prefix}-${randomBytes(8).toString('hex')}`;

/** The ESS world: groups, instances, activities, server group backends, and changes that take time. */
export class EssState {
  readonly groups = new Map<string, Group>();
  readonly instances = new Map<string, Instance>();
  readonly activities = new Map<string, Activity>();
  /** Activity ids by group, in start order: Describe calls and the in-progress check read one group's only. */
  readonly #byGroup = new Map<string, string[]>();
  /** Activities not yet settled: settle() visits only these. */
  readonly #running = new Set<Activity>();
  /** Backend instances of each vServer / ALB server group, by server group id. */
  readonly backends = new Map<string, Set<string>>();
  /** Changes without an activity (DetachVServerGroups, DetachAlbServerGroups without ForceDetach). */
  readonly #delayed: { dueAt: number; apply: () => void }[] = [];
  readonly defaultActivityDurationMs: number;

  constructor(seed: EmulatorSeed) {
    this.defaultActivityDurationMs = seed.activityDurationMs;
    this.add(seed);
  }

  /** Adds (or replaces, by id) the seed's groups and instances, leaving everything else as it is. */
  add(seed: EmulatorSeed, now = Date.now()): void {
    for (const instance of seed.aliyun.instances)
      this.instances.set(instance.instanceId, { ...structuredClone(instance), addedAt: now });
    for (const group of seed.aliyun.scalingGroups) {
      const desiredCapacity = group.desiredCapacity ?? this.membersOf(group.scalingGroupId).length;
      this.groups.set(group.scalingGroupId, structuredClone({ ...group, desiredCapacity, createdAt: now }));
      const members = this.membersOf(group.scalingGroupId).map((i) => i.instanceId);
      for (const id of [
        ...group.vServerGroups.map((g) => g.vServerGroupId),
        ...group.albServerGroups.map((g) => g.albServerGroupId),
      ]) {
        this.backends.set(id, new Set(members));
      }
    }
  }

  durationOf(group: Group): number {
    return group.activityDurationMs ?? this.defaultActivityDurationMs;
  }

  membersOf(scalingGroupId: string): Instance[] {
    return [...this.instances.values()].filter((instance) => instance.scalingGroupId === scalingGroupId);
  }

  activitiesOf(scalingGroupId: string): Activity[] {
    return (this.#byGroup.get(scalingGroupId) ?? []).map((id) => this.activities.get(id) as Activity);
  }

  activityInProgress(scalingGroupId: string, now: number): Activity | undefined {
    this.settle(now);
    return this.activitiesOf(scalingGroupId).find((a) => !a.settled);
  }

  startActivity(
    group: Group,
    action: string,
    instanceIds: string[],
    now: number,
    options: {
      decreaseDesiredCapacity?: boolean;
      detachFromBalancers?: boolean;
      removePolicy?: 'release' | 'recycle';
      onSuccess?: () => void;
    } = {},
  ): Activity {
    const outcome = group.activityOutcomes.shift() ?? { status: 'Successful' as const };
    const activity: Activity = {
      id: newId('asa'),
      scalingGroupId: group.scalingGroupId,
      regionId: group.regionId,
      action,
      instanceIds,
      startedAt: now,
      endsAt: now + this.durationOf(group),
      outcome,
      settled: false,
      decreaseDesiredCapacity: options.decreaseDesiredCapacity ?? true,
      description: `${action}: ${instanceIds.join(', ')}`,
      ignoredInstanceIds: [],
      detachFromBalancers: options.detachFromBalancers ?? false,
      ...(options.removePolicy && { removePolicy: options.removePolicy }),
      ...(options.onSuccess && { onSuccess: options.onSuccess }),
      destroyed: [],
      stopped: [],
    };
    for (const id of instanceIds) {
      const instance = this.instances.get(id);
      if (instance) instance.lifecycleState = 'Removing';
    }
    this.activities.set(activity.id, activity);
    const ids = this.#byGroup.get(group.scalingGroupId);
    if (ids) ids.push(activity.id);
    else this.#byGroup.set(group.scalingGroupId, [activity.id]);
    this.#running.add(activity);
    return activity;
  }

  /** A change that shows up after the group's activity duration, with no activity to follow. */
  later(group: Group, now: number, apply: () => void): void {
    this.#delayed.push({ dueAt: now + this.durationOf(group), apply });
  }

  /**
   * The instances an ended activity took out. A seeded Warning takes only the first (a partial success the
   * poller must report); a Warning from ignored invalid ids takes every valid one.
   */
  leavingOf(activity: Activity): string[] {
    if (!activity.settled) return [];
    const { status } = activity.outcome;
    if (status === 'Successful') return activity.instanceIds;
    if (status === 'Warning') {
      return activity.ignoredInstanceIds.length > 0 ? activity.instanceIds : activity.instanceIds.slice(0, 1);
    }
    return [];
  }

  /** Applies every change whose time is up. Time is the real clock: tests wait, as users do. */
  settle(now: number): void {
    for (let i = this.#delayed.length - 1; i >= 0; i--) {
      const change = this.#delayed[i] as { dueAt: number; apply: () => void };
      if (change.dueAt > now) continue;
      this.#delayed.splice(i, 1);
      change.apply();
    }
    for (const activity of this.#running) {
      if (activity.endsAt > now) continue;
      this.#running.delete(activity);
      activity.settled = true;
      const leaving = this.leavingOf(activity);
      for (const id of activity.instanceIds) {
        const instance = this.instances.get(id);
        if (!instance) continue;
        if (!leaving.includes(id)) {
          instance.lifecycleState = 'InService';
          continue;
        }
        this.leave(activity, instance);
      }
      const group = this.groups.get(activity.scalingGroupId);
      if (group && activity.decreaseDesiredCapacity) {
        group.desiredCapacity = Math.max(group.minSize, group.desiredCapacity - leaving.length);
      }
      if (activity.outcome.status === 'Successful') activity.onSuccess?.();
    }
  }

  /** An instance leaves its group; RemoveInstances also releases or recycles what the group created or was entrusted with. */
  private leave(activity: Activity, instance: Instance): void {
    delete instance.scalingGroupId;
    instance.lifecycleState = 'Detached';
    if (activity.detachFromBalancers)
      for (const members of this.backends.values()) members.delete(instance.instanceId);
    const ownedByGroup =
      instance.creationType === 'AutoCreated' || (instance.creationType === 'Attached' && instance.entrusted);
    if (!activity.removePolicy || !ownedByGroup) return;
    if (activity.removePolicy === 'recycle') {
      instance.status = 'Stopped';
      activity.stopped.push(instance.instanceId);
    } else {
      instance.status = 'Released';
      activity.destroyed.push(instance.instanceId);
    }
  }
}
