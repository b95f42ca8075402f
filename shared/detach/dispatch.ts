import { createHash, randomUUID } from 'node:crypto';
import type { ActionRequest, CompletionError, DetachRequest, TerminalStatus } from '../contracts/index.ts';
import { isDetachError } from '../errors.ts';
import { type CompletionDeps, eventFor } from './completion.ts';
import type { Batch, Clock, GroupChange, OperationRecord, ProviderRegistry } from './ports.ts';
import { planInstances } from './preflight.ts';
import { completeOrRepublish } from './rejection.ts';
import { nextClientToken, type RetryPolicy, retryDelaySeconds } from './retry.ts';

export interface DispatchDeps extends CompletionDeps {
  providers: ProviderRegistry;
  clock: Clock;
  maxAttempts: number;
  retry: RetryPolicy;
  /** How long one activity may hold its group before the group is freed anyway: the operation timeout. */
  activityHoldMs: number;
  /** False: one call per request (the benchmark's baseline). Default true. */
  coalesce?: boolean;
}

/** How long a dispatcher holds a group's lock; a crashed one frees it when this runs out. */
export const LEASE_MS = 30_000;
const WAITING_LIMIT = 100;
/** Instance ids one call takes: ESS InstanceId.N is 1..20; Tencent documents none, 100 is what we follow. */
const CALL_LIMIT: Record<string, number> = { aliyun: 20, tencent: 100 };

/**
 * The group an instance request waits in, or undefined for requests that go straight to the cloud (the server
 * group actions, and Tencent's legacy v2, which returns no activity to wait for).
 */
export function waitKeyOf(request: DetachRequest): string | undefined {
  if (!('instanceIds' in request)) return undefined;
  if ('apiVersion' in request && request.apiVersion === 'v2') return undefined;
  return `${request.provider}#${request.region}#${request.scalingGroupId}`;
}

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
  const alone = record.lastError?.kind === 'fatal' ? record.requestId : '';
  return JSON.stringify([record.action, options, alone]);
}

export type DispatchResult =
  | { kind: 'not-now' }
  /** The cloud shows an activity we did not start; the group is tried again after a backoff. */
  | { kind: 'cloud-busy' }
  | { kind: 'idle'; ended: number }
  | { kind: 'sent'; requestIds: string[]; instanceIds: number; activityId?: string; ended: number }
  | { kind: 'refused'; requestIds: string[]; code: string; ended: number };

/**
 * Sends a group's waiting requests to the cloud, as few calls as the API allows: while an activity of ours runs
 * on the group, nothing is sent (the poller frees the group when it ends); otherwise the oldest waiting requests
 * that can share a call are merged up to the API's limit, after a preflight read of the group. Each request
 * keeps its own ledger record and gets its own completion event. One dispatcher at a time per group (a lease).
 */
export async function dispatchGroup(
  deps: DispatchDeps,
  groupKey: string,
  known: OperationRecord[] = [],
): Promise<DispatchResult> {
  const owner = randomUUID();
  const group = await deps.ledger.acquireGroup(groupKey, owner, deps.clock.now(), LEASE_MS);
  if (!group) return { kind: 'not-now' };
  let change: GroupChange = {};
  try {
    const listed = await deps.ledger.listWaiting(groupKey, WAITING_LIMIT);
    // The index may not show a request written a moment ago: the caller's own one is added.
    const waiting = [
      ...listed,
      ...known.filter((k) => k.status === 'QUEUED' && !listed.some((l) => l.requestId === k.requestId)),
    ].sort((a, b) => a.createdAt.localeCompare(b.createdAt));
    if (group.batch) {
      const batch = group.batch;
      const records = waiting.filter((record) => batch.requestIds.includes(record.requestId));
      if (records.length > 0) {
        const sent = await send(deps, records, batch);
        change = sent.change;
        return sent.result;
      }
      change = { batch: null };
    }
    let ended = 0;
    const first = waiting[0];
    if (!first) {
      change = { batch: null };
      return { kind: 'idle', ended };
    }
    const formed = await formBatch(
      deps,
      waiting.filter((record) => mergeKey(record) === mergeKey(first)),
    );
    ended += formed.ended;
    if (formed.cloudBusy) {
      const waitMs = retryDelaySeconds('busy', 1, deps.retry) * 1000;
      change = { batch: null, retryAfter: deps.clock.now().getTime() + waitMs };
      return { kind: 'cloud-busy' };
    }
    if (formed.records.length === 0) {
      change = { batch: null };
      return { kind: 'idle', ended };
    }
    const sent = await send(deps, formed.records, formed.batch);
    change = sent.change;
    return 'ended' in sent.result ? { ...sent.result, ended: sent.result.ended + ended } : sent.result;
  } finally {
    await deps.ledger.releaseGroup(groupKey, owner, change);
  }
}

/** The oldest requests that fit one call, each with its plan; requests the preflight ends are ended here. */
async function formBatch(deps: DispatchDeps, candidates: OperationRecord[]) {
  const first = candidates[0] as OperationRecord;
  const request = first.request as DetachRequest & { instanceIds: string[] };
  const limit = CALL_LIMIT[request.provider] ?? 20;
  const fitting: OperationRecord[] = [];
  let size = 0;
  for (const record of candidates) {
    const ids = record.plan?.send ?? (record.request as { instanceIds: string[] }).instanceIds;
    if (size + ids.length > limit || (deps.coalesce === false && fitting.length === 1)) break;
    fitting.push(record);
    size += ids.length;
  }
  const toRead = fitting.filter((record) => !record.plan && wantsPreflight(record));
  const snapshot =
    toRead.length > 0
      ? await deps.providers[request.provider].inspect({
          action: first.action,
          request: {
            ...request,
            instanceIds: toRead.flatMap((r) => (r.request as { instanceIds: string[] }).instanceIds),
          },
        } as ActionRequest)
      : undefined;
  const records: OperationRecord[] = [];
  const instanceIds: string[] = [];
  let ended = 0;
  if (snapshot?.activityInProgress) {
    // The cloud runs an activity we did not start: wait for it rather than be refused.
    return { records, batch: { requestIds: [], instanceIds, clientToken: '' }, ended, cloudBusy: true };
  }
  let capacity = snapshot?.capacity ?? 0;
  for (const record of fitting) {
    const own = record.request as DetachRequest & { instanceIds: string[]; dryRun?: boolean };
    let plan = record.plan;
    if (!plan && wantsPreflight(record)) {
      if (!snapshot) {
        if (own.dryRun) {
          ended++;
          await end(deps, record, 'DryRun', {
            cloud: { statusCode: 'NoPreflight', statusMessage: 'This API has no read calls for a plan.' },
          });
          continue;
        }
      } else {
        // Each request is judged with the capacity the ones before it in this call leave.
        const decision = planInstances(own.instanceIds, { ...snapshot, capacity });
        const withPlan = { ...record, plan: decision.plan };
        if (own.dryRun || decision.kind !== 'send') {
          ended++;
          if (own.dryRun)
            await end(deps, withPlan, 'DryRun', decision.kind === 'refuse' ? { error: decision.error } : {});
          else if (decision.kind === 'refuse') await end(deps, withPlan, 'Failed', { error: decision.error });
          else
            await end(deps, withPlan, 'Succeeded', {
              cloud: {
                statusCode: 'AlreadyDetached',
                statusMessage: 'Every instance was already out of the group.',
              },
            });
          continue;
        }
        plan = decision.plan;
        await deps.ledger.recordPlan(record.requestId, plan, deps.clock.now());
      }
    }
    const ids = plan?.send ?? own.instanceIds;
    capacity -= ids.length;
    records.push({ ...record, ...(plan && { plan }) });
    // Two requests may name the same instance: it is sent once, and both get the activity's outcome for it.
    instanceIds.push(...ids.filter((id) => !instanceIds.includes(id)));
  }
  const clientToken =
    records.length === 1
      ? ((records[0] as OperationRecord).clientToken ?? (records[0] as OperationRecord).requestId)
      : batchToken(records);
  const batch: Batch = { requestIds: records.map((r) => r.requestId), instanceIds, clientToken };
  return { records, batch, ended, cloudBusy: false };
}

const wantsPreflight = (record: OperationRecord) => {
  const request = record.request as { preflight?: boolean; dryRun?: boolean };
  return request.preflight === true || request.dryRun === true;
};

/** A merged call's token: the same for the same requests at the same attempt, new after a definitive refusal. */
function batchToken(records: OperationRecord[]): string {
  const seed = records.map((r) => `${r.requestId}:${r.attempts}`).join(',');
  return `${createHash('sha256').update(seed).digest('base64url').slice(0, 40)}~b`;
}

async function end(
  deps: DispatchDeps,
  record: OperationRecord,
  status: TerminalStatus,
  extra: Parameters<typeof eventFor>[3],
): Promise<void> {
  await completeOrRepublish(
    deps,
    eventFor(record, status, deps.clock.now(), extra),
    record.request?.callbackUrl,
  );
}

async function send(
  deps: DispatchDeps,
  records: OperationRecord[],
  batch: Batch,
): Promise<{ result: DispatchResult; change: GroupChange }> {
  const first = records[0] as OperationRecord;
  const request = first.request as DetachRequest;
  const operation = {
    action: first.action,
    request: { ...request, instanceIds: batch.instanceIds },
  } as ActionRequest;
  const ambiguous = records.find((r) => r.lastError?.kind === 'transient');
  const requestIds = records.map((r) => r.requestId);
  try {
    const result = await deps.providers[request.provider].submit(operation, {
      clientToken: batch.clientToken,
      ...(ambiguous && { ambiguousSince: new Date(ambiguous.createdAt) }),
    });
    const now = deps.clock.now();
    for (const record of records) await deps.ledger.markSubmitted(record.requestId, result, now);
    return {
      result: {
        kind: 'sent',
        requestIds,
        instanceIds: batch.instanceIds.length,
        ended: 0,
        ...(result.activityId && { activityId: result.activityId }),
      },
      change: {
        batch: null,
        ...(result.activityId && {
          activityId: result.activityId,
          activityUntil: now.getTime() + deps.activityHoldMs,
        }),
      },
    };
  } catch (error) {
    if (!isDetachError(error)) throw error;
    const now = deps.clock.now();
    let ended = 0;
    // A fatal answer to a merged call may be about one request only: each is tried alone before it fails.
    const retryAlone = !error.retryable && records.length > 1;
    for (const record of records) {
      const attempts = record.attempts + 1;
      if (retryAlone || (error.retryable && attempts < deps.maxAttempts)) {
        const token = nextClientToken(record.clientToken ?? record.requestId, record.requestId, error.kind);
        await deps.ledger.recordAttemptFailure(record.requestId, error, token, now);
        continue;
      }
      const failure: CompletionError = error.retryable
        ? {
            code: 'RetriesExhausted',
            kind: error.kind,
            message: `Gave up after ${attempts} attempts; last error ${error.code}: ${error.message}`,
          }
        : { code: error.code, kind: error.kind, message: error.message };
      ended++;
      await end(deps, { ...record, attempts }, 'Failed', { error: failure });
    }
    const delay =
      retryDelaySeconds(error.kind, Math.max(...records.map((r) => r.attempts + 1)), deps.retry) * 1000;
    return {
      result: { kind: 'refused', requestIds, code: error.code, ended },
      change: {
        // After an ambiguous failure the next call must be this same one (same requests, instances, token).
        batch: error.kind === 'transient' && ended === 0 ? batch : null,
        ...(error.retryable && { retryAfter: now.getTime() + delay }),
      },
    };
  }
}
