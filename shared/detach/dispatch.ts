import { createHash, randomUUID } from 'node:crypto';
import type { ActionRequest, CompletionEvent, DetachRequest } from '../contracts/index.ts';
import { type ErrorKind, isDetachError } from '../errors.ts';
import { type CompletionDeps, eventFor, publishStored } from './completion.ts';
import { type CrashPoint, passThrough } from './crash-points.ts';
import { judgeFailedCall, mayHaveActed } from './judge-call.ts';
import type {
  Clock,
  Fence,
  Intent,
  IntentOutcome,
  OperationRecord,
  ProviderRegistry,
  ScalingProvider,
} from './ports.ts';
import { type Plan, partialByPlan, planInstances } from './preflight.ts';
import { type RetryPolicy, retryDelaySeconds } from './retry.ts';

export interface DispatchDeps extends CompletionDeps {
  providers: ProviderRegistry;
  clock: Clock;
  maxAttempts: number;
  retry: RetryPolicy;
  /** How long one activity may hold its group before the group is freed anyway: the operation timeout. */
  activityHoldMs: number;
  /**
   * How long a dispatcher holds a group's lease; it is renewed right before each cloud call, so it must outlive
   * one call (connect and response timeouts) and the writes around it. See `leaseFor`.
   */
  leaseMs: number;
  /**
   * How long after it started a call without an idempotency token may still act (the client gave up, the cloud
   * may not have): such a call is resolved only after this.
   */
  settleMs: number;
  /** False: one call per request (the benchmark's baseline). Default true. */
  coalesce?: boolean;
}

/**
 * The lease and settle times the HTTP timeouts imply. A dispatch makes at most four sequential calls under one
 * lease (the preflight's three reads, then the call; the lease is renewed right before the call), so the lease
 * covers four calls and a margin. A repeat without a token may read the cloud, then call: a call is taken as
 * unable to act any more three calls' time after it started.
 */
export function leaseFor(http: { connectTimeoutMs: number; responseTimeoutMs: number }) {
  const callMs = http.connectTimeoutMs + http.responseTimeoutMs;
  return { leaseMs: 4 * callMs + 15_000, settleMs: 3 * callMs + 5_000 };
}

const WAITING_LIMIT = 100;
/** Instance ids one call takes: ESS InstanceId.N is 1..20; Tencent documents none, 100 is what we follow. */
const CALL_LIMIT: Record<string, number> = { aliyun: 20, tencent: 100 };
/** Requests one intent serves: its transaction writes each of them, the group and an activity claim (DynamoDB: 100 items). */
const REQUESTS_PER_INTENT = 98;
const FORM_ROUNDS = 3;

/** The group every request waits in: one dispatcher at a time sends to a scaling group. */
export const waitKeyOf = (request: DetachRequest): string =>
  `${request.provider}#${request.region}#${request.scalingGroupId}`;

/** Requests of the instance actions on API 3.0 / ESS merge into one call; the others go one at a time. */
const mergeable = (record: OperationRecord): boolean => {
  const request = record.request as DetachRequest;
  return 'instanceIds' in request && !('apiVersion' in request && request.apiVersion === 'v2');
};

/** Requests merge into one call only when everything but their instances and bookkeeping is the same. */
function mergeKey(record: OperationRecord): string {
  const {
    requestId: _id,
    instanceIds: _ids,
    callbackUrl: _url,
    clientToken: _token,
    preflight: _p,
    dryRun: _d,
    ...options
  } = record.request as unknown as Record<string, unknown>;
  // A request a merged call was refused for goes alone next, so that its refusal is its own, not its neighbours'.
  const alone =
    !mergeable(record) || record.alone || record.lastError?.kind === 'fatal' ? record.requestId : '';
  return JSON.stringify([record.action, options, alone]);
}

export type DispatchResult =
  /** Another dispatcher holds the group, an activity of ours runs on it, or it is backing off. */
  | { kind: 'not-now' }
  /** This dispatcher's lease ran out under it: it changed nothing more and stopped. */
  | { kind: 'lost-lease' }
  /** A call without a token may still act: it is resolved once it no longer can. */
  | { kind: 'settling' }
  /** The cloud shows an activity we did not start, or its read calls failed: tried again after a backoff. */
  | { kind: 'cloud-busy' }
  | { kind: 'idle'; ended: number }
  | { kind: 'sent'; requestIds: string[]; instanceIds: number; activityId?: string; ended: number }
  | { kind: 'refused'; requestIds: string[]; code: string; ended: number };

class LostLease extends Error {}

/**
 * Sends a group's waiting requests to the cloud under the group's lease, as few calls as the API allows.
 * Write-ahead: the call is written as the group's intent (records SUBMITTING) before it is made, and its outcome
 * is written in one transaction with the records; whoever finds an intent resolves it before anything new is
 * sent. Every write is fenced by the lease: a dispatcher that lost it changes nothing and stops.
 */
export async function dispatchGroup(
  deps: DispatchDeps,
  groupKey: string,
  known: readonly OperationRecord[] = [],
): Promise<DispatchResult> {
  const acquired = await deps.ledger.acquireGroup(groupKey, randomUUID(), deps.clock.now(), deps.leaseMs);
  if (!acquired) return { kind: 'not-now' };
  await checkpoint(deps, 'dispatch.after-lease');
  const { fence, group } = acquired;
  try {
    return group.intent
      ? await resolvePending(deps, fence, group.intent)
      : await sendWaiting(deps, fence, known);
  } catch (error) {
    if (error instanceof LostLease) return { kind: 'lost-lease' };
    throw error;
  } finally {
    await deps.ledger.releaseGroup(fence);
  }
}

const checkpoint = (deps: DispatchDeps, point: CrashPoint) => (deps.checkpoint ?? passThrough)(point);

/** An intent someone wrote and did not see through (a crash, a lost answer, a lost lease): finish it first. */
async function resolvePending(deps: DispatchDeps, fence: Fence, intent: Intent): Promise<DispatchResult> {
  const records = (await deps.ledger.getMany(intent.requestIds)).filter(
    (record) => record.status === 'SUBMITTING' && record.intentId === intent.id,
  );
  if (records.length === 0) {
    // Every request of it has ended already: only the intent is left to forget.
    if (
      !(await deps.ledger.resolveIntent(
        fence,
        intent,
        { kind: 'refused', requeue: [] },
        [],
        deps.clock.now(),
      ))
    )
      throw new LostLease();
    return { kind: 'idle', ended: 0 };
  }
  const provider = providerOf(deps, records[0] as OperationRecord);
  const now = deps.clock.now();
  // Unresolved for longer than an operation may take (a cloud busy for hours), and past the time its call could
  // still act: the requests end and the group is free.
  const limitMs = deps.activityHoldMs + deps.settleMs;
  if (now.getTime() - Date.parse(intent.createdAt) >= limitMs) {
    // Before giving up: what a call of it took out may be gone (then it acted, and reconciliation confirms it).
    if (intent.calls > 0 && (await goneFromGroup(provider, operationOf(intent, records)))) {
      const requestIds = records.map((record) => record.requestId);
      if (!(await deps.ledger.resolveIntent(fence, intent, { kind: 'accepted', requestIds }, [], now)))
        throw new LostLease();
      return { kind: 'sent', requestIds, instanceIds: intent.instanceIds?.length ?? 0, ended: 0 };
    }
    const seconds = Math.round(limitMs / 1000);
    const ended = records.map((record) =>
      eventFor(record, 'TimedOut', now, {
        error: {
          code: 'TimedOut',
          message: `The call could not be confirmed within ${seconds} s${record.lastError ? `; the cloud's last answer was ${record.lastError.code}: ${record.lastError.message}` : '.'}`,
        },
      }),
    );
    if (!(await deps.ledger.resolveIntent(fence, intent, { kind: 'refused', requeue: [] }, ended, now)))
      throw new LostLease();
    await publishAll(deps, ended, records);
    return { kind: 'idle', ended: ended.length };
  }
  if (intent.calls > 0 && intent.calledAt && !provider.idempotentByToken(intent.action)) {
    const settledAt = Date.parse(intent.calledAt) + deps.settleMs;
    if (deps.clock.now().getTime() < settledAt) {
      if (!(await deps.ledger.backOff(fence, settledAt, deps.clock.now()))) throw new LostLease();
      return { kind: 'settling' };
    }
  }
  return call(deps, fence, intent, records);
}

async function sendWaiting(
  deps: DispatchDeps,
  fence: Fence,
  known: readonly OperationRecord[],
): Promise<DispatchResult> {
  let ended = 0;
  const gone = new Set<string>();
  for (let round = 0; round < FORM_ROUNDS; round++) {
    const listed = await deps.ledger.listWaiting(fence.groupKey, WAITING_LIMIT);
    // The index may not show a request written a moment ago (the caller's own), or show an older version of one
    // (its plan, token, last error): the candidates are read again, consistently, before anything is decided.
    const ids = [...new Set([...listed, ...known].map((record) => record.requestId))].filter(
      (id) => !gone.has(id),
    );
    const waiting = (await deps.ledger.getMany(ids))
      .filter((record) => record.status === 'QUEUED')
      .sort((a, b) => a.createdAt.localeCompare(b.createdAt));
    const first = waiting[0];
    if (!first) return { kind: 'idle', ended };
    const formed = await formBatch(
      deps,
      fence,
      waiting.filter((record) => mergeKey(record) === mergeKey(first)),
    );
    if (formed.kind === 'stale') {
      for (const record of await deps.ledger.getMany(formed.requestIds))
        if (record.status !== 'QUEUED') gone.add(record.requestId);
      continue;
    }
    ended += formed.ended;
    if (formed.kind === 'wait') {
      if (!(await deps.ledger.backOff(fence, formed.retryAfter, deps.clock.now()))) throw new LostLease();
      return { kind: 'cloud-busy' };
    }
    if (formed.records.length === 0) continue;
    const { records, plans } = formed;
    const now = deps.clock.now();
    const id = randomUUID();
    const intent: Intent = {
      id,
      action: first.action,
      requestIds: records.map((record) => record.requestId),
      ...(formed.instanceIds && { instanceIds: formed.instanceIds }),
      clientToken: tokenFor(records, id),
      createdAt: now.toISOString(),
      calls: 0,
    };
    const written = await deps.ledger.writeIntent(fence, intent, plans, now);
    if (written === 'lost-lease') throw new LostLease();
    if (written === 'stale-records') {
      for (const record of await deps.ledger.getMany(intent.requestIds))
        if (record.status !== 'QUEUED') gone.add(record.requestId);
      continue;
    }
    await checkpoint(deps, 'dispatch.after-intent');
    const submitting = records.map((record) => ({
      ...record,
      status: 'SUBMITTING' as const,
      intentId: id,
      ...(plans.get(record.requestId) && { plan: plans.get(record.requestId) }),
    }));
    const result = await call(deps, fence, intent, submitting);
    return 'ended' in result ? { ...result, ended: result.ended + ended } : result;
  }
  return { kind: 'idle', ended };
}

type Formed =
  | {
      kind: 'call';
      records: OperationRecord[];
      plans: Map<string, Plan>;
      instanceIds?: string[];
      ended: number;
    }
  /** The cloud runs an activity we did not start, or could not be read: nothing goes before `retryAfter`. */
  | { kind: 'wait'; retryAfter: number; ended: number }
  /** Some of the requests had moved on (the index lags): form again without them. */
  | { kind: 'stale'; requestIds: string[] };

/**
 * The oldest requests that fit one call, each with its plan. Requests the preflight ends (nothing to send,
 * refused, dry runs) are ended here, under the fence, without a call.
 */
async function formBatch(deps: DispatchDeps, fence: Fence, candidates: OperationRecord[]): Promise<Formed> {
  const first = candidates[0] as OperationRecord;
  const request = first.request as DetachRequest;
  const plans = new Map<string, Plan>();
  // Server group requests have no plan and no dry run; v2 requests take the path below alone (no snapshot).
  if (!('instanceIds' in request)) return { kind: 'call', records: [first], plans, ended: 0 };
  const limit = CALL_LIMIT[request.provider] ?? 20;
  const fitting: OperationRecord[] = [];
  let size = 0;
  for (const record of candidates) {
    const ids = record.plan?.send ?? (record.request as { instanceIds: string[] }).instanceIds;
    const full = fitting.length >= REQUESTS_PER_INTENT || (deps.coalesce === false && fitting.length === 1);
    if (fitting.length > 0 && (size + ids.length > limit || full)) break;
    fitting.push(record);
    size += ids.length;
  }
  const toRead = fitting.filter((record) => !record.plan && wantsPreflight(record));
  const provider = providerOf(deps, first);
  let snapshot: Awaited<ReturnType<ScalingProvider['inspect']>>;
  if (toRead.length > 0) {
    try {
      snapshot = await provider.inspect({
        action: first.action,
        request: {
          ...request,
          instanceIds: toRead.flatMap((r) => (r.request as { instanceIds: string[] }).instanceIds),
        },
      } as ActionRequest);
    } catch (error) {
      if (!isDetachError(error)) throw error;
      if (error.retryable) return { kind: 'wait', retryAfter: backoffUntil(deps, error.kind, 1), ended: 0 };
      // A read the cloud refuses for good (credentials, permissions) ends the requests that needed it.
      const now = deps.clock.now();
      const events = toRead.map((record) =>
        eventFor(record, 'Failed', now, {
          error: { code: `Preflight.${error.code}`, kind: 'fatal', message: error.message },
        }),
      );
      return endAll(deps, fence, events, toRead, { kind: 'call', records: [], plans, ended: events.length });
    }
  }
  if (snapshot?.activityInProgress) {
    // The cloud runs an activity we did not start: wait for it rather than be refused.
    return { kind: 'wait', retryAfter: backoffUntil(deps, 'busy', 1), ended: 0 };
  }
  const missing = snapshot
    ? toRead
        .flatMap((r) => (r.request as { instanceIds: string[] }).instanceIds)
        .filter((id) => !snapshot?.present.some((p) => p.instanceId === id))
    : [];
  const takenOut =
    missing.length > 0 ? await deps.ledger.takenOut(fence.groupKey, missing) : new Set<string>();
  const records: OperationRecord[] = [];
  const instanceIds: string[] = [];
  const events: CompletionEvent[] = [];
  let capacity = snapshot?.capacity ?? 0;
  const now = deps.clock.now();
  for (const record of fitting) {
    const own = record.request as DetachRequest & {
      instanceIds: string[];
      dryRun?: boolean;
      ignoreInvalidInstance?: boolean;
    };
    let plan = record.plan;
    if (!plan && wantsPreflight(record)) {
      if (!snapshot) {
        if (own.dryRun) {
          events.push(
            eventFor(record, 'DryRun', now, {
              cloud: { statusCode: 'NoPreflight', statusMessage: 'This API has no read calls for a plan.' },
            }),
          );
          continue;
        }
      } else {
        // Each request is judged with the capacity the ones before it in this call leave.
        const decision = planInstances(
          own.instanceIds,
          { ...snapshot, capacity },
          { takenOut, ignoreNotInGroup: own.ignoreInvalidInstance === true },
        );
        const withPlan = { ...record, plan: decision.plan };
        if (own.dryRun) {
          events.push(
            eventFor(withPlan, 'DryRun', now, decision.kind === 'refuse' ? { error: decision.error } : {}),
          );
          continue;
        }
        if (decision.kind === 'refuse') {
          events.push(
            eventFor(withPlan, 'Failed', now, {
              error: decision.error,
              ...notInGroupOf(decision.plan),
            }),
          );
          continue;
        }
        if (decision.kind === 'done') {
          const partial = partialByPlan(decision.plan, own);
          events.push(
            eventFor(withPlan, partial ? 'Partial' : 'Succeeded', now, {
              cloud: {
                statusCode: 'AlreadyDetached',
                statusMessage: 'Every instance this service was asked for was already out of the group.',
              },
              ...notInGroupOf(decision.plan),
            }),
          );
          continue;
        }
        plan = decision.plan;
        plans.set(record.requestId, plan);
      }
    }
    const ids = plan?.send ?? own.instanceIds ?? [];
    capacity -= ids.length;
    records.push(record);
    // Two requests may name the same instance: it is sent once, and both get the activity's outcome for it.
    instanceIds.push(...ids.filter((id) => !instanceIds.includes(id)));
  }
  const formed: Formed = {
    kind: 'call',
    records,
    plans,
    ...('instanceIds' in request && { instanceIds }),
    ended: events.length,
  };
  return events.length > 0 ? endAll(deps, fence, events, fitting, formed) : formed;
}

const notInGroupOf = (plan: Plan): Pick<CompletionEvent, 'instances'> =>
  plan.notInGroup?.length
    ? { instances: { detached: plan.alreadyDetached, notDetached: plan.send, notInGroup: plan.notInGroup } }
    : {};

/** Ends waiting requests under the fence, then publishes their events. */
async function endAll(
  deps: DispatchDeps,
  fence: Fence,
  events: CompletionEvent[],
  records: readonly OperationRecord[],
  then: Formed,
): Promise<Formed> {
  const ended = await deps.ledger.endWaiting(fence, events, deps.clock.now());
  if (ended === 'lost-lease') throw new LostLease();
  if (ended === 'stale-records') return { kind: 'stale', requestIds: events.map((e) => e.requestId) };
  await publishAll(deps, events, records);
  return then;
}

/** Publishes the events of requests this dispatcher ended (their transitions are written). */
async function publishAll(
  deps: DispatchDeps,
  events: readonly CompletionEvent[],
  records: readonly OperationRecord[],
): Promise<void> {
  for (const event of events) {
    const record = records.find((r) => r.requestId === event.requestId);
    await publishStored(deps, event, record?.request?.callbackUrl);
  }
}

const wantsPreflight = (record: OperationRecord) => {
  const request = record.request as { preflight?: boolean; dryRun?: boolean };
  return request.preflight === true || request.dryRun === true;
};

const providerOf = (deps: DispatchDeps, record: OperationRecord): ScalingProvider =>
  deps.providers[(record.request as DetachRequest).provider];

/**
 * An intent's token. A request's first call uses its own token (the caller's clientToken, or its request id);
 * every later intent gets a token of its own, so that a cloud that remembers a token's refusal cannot answer a
 * new call with it, while repeating one intent always repeats its token. `~` is not allowed in request ids, so
 * derived tokens never collide with a request's; they fit ESS's 64 ASCII characters.
 */
function tokenFor(records: readonly OperationRecord[], intentId: string): string {
  const only = records[0] as OperationRecord;
  if (records.length === 1 && !only.intentId) return only.clientToken ?? only.requestId;
  return `${createHash('sha256').update(intentId).digest('base64url').slice(0, 40)}~i`;
}

function backoffUntil(deps: DispatchDeps, kind: ErrorKind, attempt: number): number {
  return deps.clock.now().getTime() + retryDelaySeconds(kind, attempt, deps.retry) * 1000;
}

/** Makes (or repeats) the intent's call and writes its outcome; ends the requests the outcome ends. */
async function call(
  deps: DispatchDeps,
  fence: Fence,
  intent: Intent,
  records: OperationRecord[],
): Promise<DispatchResult> {
  const renewed = await deps.ledger.beginCall(fence, intent.id, deps.clock.now(), deps.leaseMs);
  if (!renewed) throw new LostLease();
  const provider = providerOf(deps, records[0] as OperationRecord);
  const operation = operationOf(intent, records);
  const requestIds = records.map((record) => record.requestId);
  let outcome: IntentOutcome;
  let ended: CompletionEvent[] = [];
  let result: DispatchResult;
  try {
    const answer = await provider.submit(operation, {
      clientToken: intent.clientToken,
      // The intent was called before (its answer was lost, or its dispatcher died): the cloud may have acted.
      ...(intent.calls > 0 && {
        ambiguousSince: new Date(intent.createdAt),
        claimedElsewhere: (activityId: string) =>
          deps.ledger.activityClaimedElsewhere(fence.groupKey, activityId, intent.id),
      }),
    });
    await checkpoint(deps, 'dispatch.after-call');
    const now = deps.clock.now();
    outcome = {
      kind: 'accepted',
      requestIds,
      ...(answer.activityId && {
        activityId: answer.activityId,
        holdUntil: now.getTime() + deps.activityHoldMs,
        // Without a token a later recovery finds activities by what they did: this one is remembered as ours.
        ...(!provider.idempotentByToken(intent.action) && { claimActivity: true }),
      }),
      ...(answer.cloudRequestId && { cloudRequestId: answer.cloudRequestId }),
    };
    result = {
      kind: 'sent',
      requestIds,
      instanceIds: intent.instanceIds?.length ?? 0,
      ended: 0,
      ...(answer.activityId && { activityId: answer.activityId }),
    };
  } catch (error) {
    if (!isDetachError(error)) throw error;
    await checkpoint(deps, 'dispatch.after-call');
    const gone = mayHaveActed(intent, error.kind) ? await goneFromGroup(provider, operation) : undefined;
    ({ outcome, ended } = judgeFailedCall({
      intent,
      records,
      error: { code: error.code, kind: error.kind, message: error.message },
      idempotentByToken: provider.idempotentByToken(intent.action),
      gone,
      maxAttempts: deps.maxAttempts,
      settleMs: deps.settleMs,
      now: deps.clock.now(),
      backoffUntil: (kind, attempt) => backoffUntil(deps, kind, attempt),
    }));
    result =
      outcome.kind === 'accepted'
        ? { kind: 'sent', requestIds, instanceIds: intent.instanceIds?.length ?? 0, ended: 0 }
        : { kind: 'refused', requestIds, code: error.code, ended: ended.length };
  }
  if (!(await deps.ledger.resolveIntent(renewed, intent, outcome, ended, deps.clock.now())))
    throw new LostLease();
  await checkpoint(deps, 'dispatch.after-outcome');
  await publishAll(deps, ended, records);
  return result;
}

/** The call an intent makes: its first request's, with the instances of all of them. */
const operationOf = (intent: Intent, records: readonly OperationRecord[]): ActionRequest => {
  const first = records[0] as OperationRecord;
  return {
    action: intent.action,
    request: { ...first.request, ...(intent.instanceIds && { instanceIds: intent.instanceIds }) },
  } as ActionRequest;
};

/**
 * Whether what the intent's call takes out is already gone from the group (so a call of it acted), read through
 * the API the request uses; undefined when the read fails (no evidence either way).
 */
async function goneFromGroup(
  provider: ScalingProvider,
  operation: ActionRequest,
): Promise<boolean | undefined> {
  try {
    const done = await provider.reconcile(operation.request.region, [operation]);
    return done.get(operation.request.requestId);
  } catch {
    return undefined;
  }
}
