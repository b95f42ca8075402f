import type { CompletionError, CompletionEvent } from '../contracts/index.ts';

/** What a provider reads of a group before an instance action (two describe calls). */
export interface GroupSnapshot {
  exists: boolean;
  /** Whether the group takes the action in its current state. */
  active: boolean;
  /** The cloud's own word for the group's state, for messages. */
  state: string;
  minSize: number;
  /** The capacity MinSize is checked against. */
  capacity: number;
  /** Tencent API 3.0 skips the MinSize check for a disabled group. */
  checkMinSize: boolean;
  /** The cloud shows an activity running on the group (one we did not start): nothing can go until it ends. */
  activityInProgress?: boolean;
  /** The named instances in the group, their state, and whether the API takes it (contracts/instance-states.ts). */
  present: { instanceId: string; state: string; acceptable: boolean }[];
}

/** What a provider answers for a group the cloud does not list. */
export const MISSING_GROUP: GroupSnapshot = {
  exists: false,
  active: false,
  state: 'Missing',
  minSize: 0,
  capacity: 0,
  checkMinSize: true,
  present: [],
};

export type Plan = NonNullable<CompletionEvent['plan']>;

export type PlanDecision =
  | { kind: 'send'; plan: Plan }
  | { kind: 'done'; plan: Plan }
  | { kind: 'refuse'; plan: Plan; error: CompletionError };

const refuse = (plan: Plan, code: string, message: string): PlanDecision => ({
  kind: 'refuse',
  plan,
  error: { code: `Preflight.${code}`, kind: 'fatal', message },
});

/** Decides, from the group as it is, what an instance request sends, or why it sends nothing. */
export function planInstances(instanceIds: readonly string[], group: GroupSnapshot): PlanDecision {
  const present = new Map(group.present.map((p) => [p.instanceId, p]));
  const plan: Plan = {
    send: instanceIds.filter((id) => present.get(id)?.acceptable),
    alreadyDetached: instanceIds.filter((id) => !present.has(id)),
    refused: instanceIds.flatMap((id) => {
      const instance = present.get(id);
      return instance && !instance.acceptable ? [{ instanceId: id, state: instance.state }] : [];
    }),
    groupState: group.state,
    minSize: group.minSize,
    capacity: group.capacity,
  };
  if (!group.exists)
    return refuse(
      plan,
      'GroupNotFound',
      'The scaling group does not exist, or is not active (ESS lists only active groups).',
    );
  if (!group.active)
    return refuse(plan, 'GroupNotActive', `The scaling group is ${group.state}; it must be active.`);
  if (plan.refused.length > 0) {
    const list = plan.refused.map((r) => `${r.instanceId} (${r.state})`).join(', ');
    return refuse(plan, 'InstanceStateRefused', `These instances are in a state the API refuses: ${list}.`);
  }
  if (plan.send.length === 0) return { kind: 'done', plan };
  if (group.checkMinSize && group.capacity - plan.send.length < group.minSize) {
    return refuse(
      plan,
      'BelowMinSize',
      `Taking out ${plan.send.length} of ${group.capacity} would leave the group below its MinSize of ${group.minSize}.`,
    );
  }
  return { kind: 'send', plan };
}
