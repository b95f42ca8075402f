import type { CompletionError, CompletionEvent, DetachRequest } from '../contracts/index.ts';

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

export interface PlanContext {
  /** Of the named instances, those this service itself took out of the group earlier (the ledger knows). */
  takenOut: ReadonlySet<string>;
  /** The request's `ignoreInvalidInstance`: instances not in the group are listed, and fail nothing. */
  ignoreNotInGroup: boolean;
}

/**
 * Decides, from the group as it is, what an instance request sends, or why it sends nothing. An instance
 * missing from the group counts as done only when this service took it out; otherwise it is `notInGroup` (a
 * typo, or another tool's doing), which fails the request when nothing else of it was done, and makes it
 * Partial otherwise, unless the request set `ignoreInvalidInstance`.
 */
export function planInstances(
  instanceIds: readonly string[],
  group: GroupSnapshot,
  context: PlanContext = { takenOut: new Set(), ignoreNotInGroup: false },
): PlanDecision {
  const present = new Map(group.present.map((p) => [p.instanceId, p]));
  // A request may name an instance twice (merged calls do): it counts once.
  const ids = [...new Set(instanceIds)];
  const missing = ids.filter((id) => !present.has(id));
  const plan: Plan = {
    send: ids.filter((id) => present.get(id)?.acceptable),
    alreadyDetached: missing.filter((id) => context.takenOut.has(id)),
    notInGroup: missing.filter((id) => !context.takenOut.has(id)),
    refused: ids.flatMap((id) => {
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
  const notInGroup = plan.notInGroup ?? [];
  if (
    notInGroup.length > 0 &&
    !context.ignoreNotInGroup &&
    plan.send.length === 0 &&
    plan.alreadyDetached.length === 0
  ) {
    return refuse(
      plan,
      'NotInGroup',
      `None of these instances is in the scaling group: ${notInGroup.join(', ')}. Set ignoreInvalidInstance to accept that.`,
    );
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

/** Whether a plan left instances out that the request named and that were not in the group: Partial at best. */
export const partialByPlan = (plan: Plan | undefined, request: DetachRequest): boolean =>
  (plan?.notInGroup?.length ?? 0) > 0 &&
  !('ignoreInvalidInstance' in request && request.ignoreInvalidInstance === true);
