import type { CompletionEvent, DetachRequest } from '../contracts/index.ts';
import { eventFor } from './completion.ts';
import type { OperationRecord } from './ports.ts';
import { type GroupSnapshot, type Plan, partialByPlan, planInstances } from './preflight.ts';

/** The requests of the instance actions: they name instances, and may ask for a preflight and a dry run. */
type InstanceRequest = Extract<DetachRequest, { instanceIds: string[] }>;

/** The instances a request names (none: a server group request). */
export const instancesOf = (record: OperationRecord): string[] =>
  'instanceIds' in record.request ? record.request.instanceIds : [];

/** The request, if it wants the group read first (a preflight, or a dry run). */
const preflightOf = (record: OperationRecord): InstanceRequest | undefined => {
  const { request } = record;
  return 'instanceIds' in request && (request.preflight === true || request.dryRun === true)
    ? request
    : undefined;
};

export const wantsPreflight = (record: OperationRecord): boolean => preflightOf(record) !== undefined;

/**
 * The oldest waiting requests whose instances fit one call: at most `instanceLimit` instance ids (the API's) and
 * `requestLimit` requests (one transaction writes each of them).
 */
export function fitOneCall(
  candidates: readonly OperationRecord[],
  limits: { instanceLimit: number; requestLimit: number },
): OperationRecord[] {
  const fitting: OperationRecord[] = [];
  let size = 0;
  for (const record of candidates) {
    const ids = record.plan?.send ?? instancesOf(record);
    const full = fitting.length >= limits.requestLimit || size + ids.length > limits.instanceLimit;
    if (fitting.length > 0 && full) break;
    fitting.push(record);
    size += ids.length;
  }
  return fitting;
}

/** What goes into the call, and what ends without one. */
export interface BatchDecision {
  /** The requests the call serves, oldest first. */
  call: OperationRecord[];
  /** Plans fixed now (a request planned before keeps its own). */
  plans: Map<string, Plan>;
  /** The call's instances: each once, though two requests may name it. */
  instanceIds: string[];
  /** Requests the preflight ends: dry runs, refusals, nothing left to send. */
  ended: CompletionEvent[];
}

/**
 * Decides, from the group as read (`snapshot`, absent where no request wanted a preflight or the API has none),
 * what each fitting request does: joins the call with its plan, or ends here. Each request is judged with the
 * capacity the ones before it in this call leave.
 */
export function decideBatch(
  fitting: readonly OperationRecord[],
  snapshot: GroupSnapshot | undefined,
  takenOut: ReadonlySet<string>,
  now: Date,
): BatchDecision {
  const decision: BatchDecision = { call: [], plans: new Map(), instanceIds: [], ended: [] };
  let capacity = snapshot?.capacity ?? 0;
  for (const record of fitting) {
    const own = record.plan ? undefined : preflightOf(record);
    const verdict = own && judgeOne(record, own, snapshot, capacity, takenOut, now);
    if (verdict?.kind === 'end') {
      decision.ended.push(verdict.event);
      continue;
    }
    if (verdict) decision.plans.set(record.requestId, verdict.plan);
    const ids = verdict?.plan.send ?? record.plan?.send ?? instancesOf(record);
    capacity -= ids.length;
    decision.call.push(record);
    decision.instanceIds.push(...ids.filter((id) => !decision.instanceIds.includes(id)));
  }
  return decision;
}

type Verdict = { kind: 'end'; event: CompletionEvent } | { kind: 'send'; plan: Plan };

function judgeOne(
  record: OperationRecord,
  own: InstanceRequest,
  snapshot: GroupSnapshot | undefined,
  capacity: number,
  takenOut: ReadonlySet<string>,
  now: Date,
): Verdict | undefined {
  if (!snapshot) {
    if (!own.dryRun) return undefined;
    const cloud = { statusCode: 'NoPreflight', statusMessage: 'This API has no read calls for a plan.' };
    return { kind: 'end', event: eventFor(record, 'DryRun', now, { cloud }) };
  }
  const decision = planInstances(
    own.instanceIds,
    { ...snapshot, capacity },
    { takenOut, ignoreNotInGroup: own.ignoreInvalidInstance === true },
  );
  const withPlan = { ...record, plan: decision.plan };
  if (own.dryRun) {
    const extra = decision.kind === 'refuse' ? { error: decision.error } : {};
    return { kind: 'end', event: eventFor(withPlan, 'DryRun', now, extra) };
  }
  if (decision.kind === 'refuse')
    return {
      kind: 'end',
      event: eventFor(withPlan, 'Failed', now, { error: decision.error, ...notInGroupOf(decision.plan) }),
    };
  if (decision.kind === 'send') return { kind: 'send', plan: decision.plan };
  const cloud = {
    statusCode: 'AlreadyDetached',
    statusMessage: 'Every instance this service was asked for was already out of the group.',
  };
  const status = partialByPlan(decision.plan, own) ? 'Partial' : 'Succeeded';
  return { kind: 'end', event: eventFor(withPlan, status, now, { cloud, ...notInGroupOf(decision.plan) }) };
}

const notInGroupOf = (plan: Plan): Pick<CompletionEvent, 'instances'> =>
  plan.notInGroup?.length
    ? { instances: { detached: plan.alreadyDetached, notDetached: plan.send, notInGroup: plan.notInGroup } }
    : {};

/** The instances of the requests that want a preflight, missing from the group: were they taken out by us? */
export const missingFrom = (
  snapshot: GroupSnapshot | undefined,
  toRead: readonly OperationRecord[],
): string[] =>
  snapshot
    ? toRead.flatMap(instancesOf).filter((id) => !snapshot.present.some((p) => p.instanceId === id))
    : [];
