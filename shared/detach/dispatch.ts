import { createHash, randomUUID } from 'node:crypto';
import { isNonEmpty, mapNonEmpty, type NonEmpty } from './collections.ts';
import { type CompletionDeps, eventFor } from './completion.ts';
import { formBatch, mergeKey } from './form-batch.ts';
import {
  call,
  goneFromGroup,
  LostLease,
  operationOf,
  providerOf,
  publishAll,
  withStartedActivity,
} from './make-call.ts';
import {
  type AccountProviders,
  type Clock,
  type Fence,
  type GroupKey,
  hasRequest,
  type Intent,
  type OperationRecord,
  type ProviderRegistry,
  type StoredRecord,
} from './ports.ts';
import type { RetryPolicy } from './retry.ts';

export interface DispatchDeps extends CompletionDeps {
  providers: ProviderRegistry;
  clock: Clock;
  maxCallAttempts: number;
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
  /** Requests one call may serve, at most 98 (the default): one transaction writes each of them. */
  requestsPerCall?: number;
  /** The providers of member accounts (issue #21); absent: no account registry. See providerFor. */
  accountProviders?: AccountProviders;
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
const FORM_ROUNDS = 3;

/**
 * The group every request waits in: one dispatcher at a time sends to a scaling group. A member account's group
 * (issue #21) is another group than the same id in another account, so its name ends the key; without one the key
 * is the one deployed tables and queues already hold. No group id of either cloud contains `#`, so the two forms
 * cannot meet.
 */
export const groupKeyOf = (group: {
  provider: string;
  region: string;
  scalingGroupId: string;
  account?: string | undefined;
}): GroupKey =>
  group.account
    ? `${group.provider}#${group.region}#${group.scalingGroupId}#${group.account}`
    : `${group.provider}#${group.region}#${group.scalingGroupId}`;

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

/**
 * Sends a group's waiting requests to the cloud under the group's lease, as few calls as the API allows.
 * Write-ahead: the call is written as the group's intent (records SUBMITTING) before it is made, and its outcome
 * is written in one transaction with the records; whoever finds an intent resolves it before anything new is
 * sent. Every write is fenced by the lease: a dispatcher that lost it changes nothing and stops.
 */
export async function dispatchGroup(
  deps: DispatchDeps,
  groupKey: GroupKey,
  known: readonly Pick<StoredRecord, 'requestId'>[] = [],
): Promise<DispatchResult> {
  const acquired = await deps.ledger.acquireGroup(groupKey, randomUUID(), deps.clock.now(), deps.leaseMs);
  if (!acquired) return { kind: 'not-now' };
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

/** An intent someone wrote and did not see through (a crash, a lost answer, a lost lease): finish it first. */
async function resolvePending(deps: DispatchDeps, fence: Fence, intent: Intent): Promise<DispatchResult> {
  const records = (await deps.ledger.getMany(intent.requestIds))
    .filter(hasRequest)
    .filter((record) => record.status === 'SUBMITTING' && record.intentId === intent.id);
  if (!isNonEmpty(records)) {
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
  const provider = providerOf(deps, records[0]);
  const now = deps.clock.now();
  // Unresolved for longer than an operation may take (a cloud busy for hours), and past the time its call could
  // still act: the requests end and the group is free.
  const limitMs = deps.activityHoldMs + deps.settleMs;
  if (now.getTime() - Date.parse(intent.createdAt) >= limitMs) {
    // Before giving up: what a call of it took out may be gone (then it acted, and reconciliation confirms it).
    const gone = intent.calls > 0 ? await goneFromGroup(provider, operationOf(intent, records)) : undefined;
    if (gone === 'all' || gone === 'some') {
      const requestIds = records.map((record) => record.requestId);
      const accepted = await withStartedActivity(
        deps,
        fence,
        intent,
        provider,
        operationOf(intent, records),
        {
          kind: 'accepted',
          requestIds,
        },
      );
      if (!(await deps.ledger.resolveIntent(fence, intent, accepted, [], now))) throw new LostLease();
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
  known: readonly Pick<StoredRecord, 'requestId'>[],
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
    const [first, ...rest] = (await deps.ledger.getMany(ids))
      .filter(hasRequest)
      .filter((record) => record.status === 'QUEUED')
      .sort((a, b) => a.createdAt.localeCompare(b.createdAt));
    if (!first) return { kind: 'idle', ended };
    const formed = await formBatch(deps, fence, [
      first,
      ...rest.filter((record) => mergeKey(record) === mergeKey(first)),
    ]);
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
    const { records, plans } = formed;
    if (!isNonEmpty(records)) continue;
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
    const submitting = mapNonEmpty(records, (record) => {
      const plan = plans.get(record.requestId);
      return { ...record, status: 'SUBMITTING' as const, intentId: id, ...(plan !== undefined && { plan }) };
    });
    const result = await call(deps, fence, intent, submitting);
    return 'ended' in result ? { ...result, ended: result.ended + ended } : result;
  }
  return { kind: 'idle', ended };
}

/**
 * An intent's token. A request's first call uses its request id, or, when the caller gave a clientToken, that
 * token bound to the request id: ESS answers a repeated token with the first call's result, so a token a caller
 * reuses for another request must never reach ESS as it is (the second request would be told the first one's
 * activity). Every later intent gets a token of its own, so that a cloud that remembers a token's refusal cannot
 * answer a new call with it, while repeating one intent always repeats its token. `~` is not allowed in request
 * ids, so derived tokens never collide with a request's; they fit ESS's 64 ASCII characters.
 */
function tokenFor(records: NonEmpty<OperationRecord>, intentId: string): string {
  const [only] = records;
  if (records.length === 1 && !only.intentId) {
    const own = only.clientToken ?? only.requestId;
    return own === only.requestId ? own : derivedToken(`${only.requestId}\n${own}`, 'c');
  }
  return derivedToken(intentId, 'i');
}

const derivedToken = (seed: string, kind: string) =>
  `${createHash('sha256').update(seed).digest('base64url').slice(0, 40)}~${kind}`;
