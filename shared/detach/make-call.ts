import { type ActionRequest, type CompletionEvent, withInstanceIds } from '../contracts/index.ts';
import { type ErrorKind, isDetachError } from '../errors.ts';
import type { NonEmpty } from './collections.ts';
import { publishStored } from './completion.ts';
import type { DispatchDeps, DispatchResult } from './dispatch.ts';
import { type GoneFromGroup, judgeFailedCall, mayHaveActed } from './judge-call.ts';
import type { Fence, Intent, IntentOutcome, OperationRecord, ScalingProvider } from './ports.ts';
import { providerFor } from './provider-for.ts';
import { retryDelaySeconds } from './retry.ts';

/** A dispatcher's lease ran out under it: it changes nothing more and stops. */
export class LostLease extends Error {}

/** Publishes the events of requests this dispatcher ended (their transitions are written). */
export async function publishAll(
  deps: DispatchDeps,
  events: readonly CompletionEvent[],
  records: readonly OperationRecord[],
): Promise<void> {
  for (const event of events) {
    const record = records.find((r) => r.requestId === event.requestId);
    await publishStored(deps, event, record?.request.callbackUrl);
  }
}

export const providerOf = (deps: DispatchDeps, record: OperationRecord): ScalingProvider =>
  providerFor(deps, record.request);

export function backoffUntil(deps: DispatchDeps, kind: ErrorKind, attempt: number): number {
  return deps.clock.now().getTime() + retryDelaySeconds(kind, attempt, deps.retry) * 1000;
}

/** Makes (or repeats) the intent's call and writes its outcome; ends the requests the outcome ends. */
export async function call(
  deps: DispatchDeps,
  fence: Fence,
  intent: Intent,
  records: NonEmpty<OperationRecord>,
): Promise<DispatchResult> {
  const renewed = await deps.ledger.beginCall(fence, intent.id, deps.clock.now(), deps.leaseMs);
  if (!renewed) throw new LostLease();
  const provider = providerOf(deps, records[0]);
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
    const gone = mayHaveActed(intent, error.kind) ? await goneFromGroup(provider, operation) : undefined;
    ({ outcome, ended } = judgeFailedCall({
      intent,
      records,
      error: { code: error.code, kind: error.kind, message: error.message },
      idempotentByToken: provider.idempotentByToken(intent.action),
      gone,
      maxCallAttempts: deps.maxCallAttempts,
      settleMs: deps.settleMs,
      now: deps.clock.now(),
      backoffUntil: (kind, attempt) => backoffUntil(deps, kind, attempt),
    }));
    result =
      outcome.kind === 'accepted'
        ? { kind: 'sent', requestIds, instanceIds: intent.instanceIds?.length ?? 0, ended: 0 }
        : { kind: 'refused', requestIds, code: error.code, ended: ended.length };
  }
  if (outcome.kind === 'accepted' && !outcome.activityId)
    outcome = await withStartedActivity(deps, renewed, intent, provider, operation, outcome);
  if (!(await deps.ledger.resolveIntent(renewed, intent, outcome, ended, deps.clock.now())))
    throw new LostLease();
  await publishAll(deps, ended, records);
  return result;
}

/**
 * A call confirmed by a read of the group, on a cloud without a token: its activity is looked up and claimed
 * (then followed), so that no later recovery adopts it for another request. Not found: confirmed by
 * reconciliation, as before.
 */
export async function withStartedActivity(
  deps: DispatchDeps,
  fence: Fence,
  intent: Intent,
  provider: ScalingProvider,
  operation: ActionRequest,
  accepted: Extract<IntentOutcome, { kind: 'accepted' }>,
): Promise<IntentOutcome> {
  if (provider.idempotentByToken(intent.action) || !provider.findStartedActivity) return accepted;
  const activityId = await provider
    .findStartedActivity(operation, new Date(intent.createdAt), (id) =>
      deps.ledger.activityClaimedElsewhere(fence.groupKey, id, intent.id),
    )
    .catch(() => undefined);
  if (!activityId) return accepted;
  const holdUntil = deps.clock.now().getTime() + deps.activityHoldMs;
  return { ...accepted, activityId, holdUntil, claimActivity: true };
}

/** The call an intent makes: its first request's, with the instances of all of them. */
export const operationOf = (intent: Intent, records: NonEmpty<OperationRecord>): ActionRequest =>
  withInstanceIds(records[0], intent.instanceIds);

/**
 * How much of what the intent's call takes out is already gone from the group (so a call of it acted), read through
 * the API the request uses; undefined when the read fails (no evidence either way).
 */
export async function goneFromGroup(
  provider: ScalingProvider,
  operation: ActionRequest,
): Promise<GoneFromGroup | undefined> {
  const { request } = operation;
  try {
    const all = (await provider.reconcile(request.region, [operation])).get(request.requestId);
    if (all === undefined) return undefined;
    if (all) return 'all';
    if (!('instanceIds' in request)) return 'none';
    const remaining = await provider.remainingInstances(operation, request.instanceIds);
    return remaining.length < new Set(request.instanceIds).size ? 'some' : 'none';
  } catch {
    return undefined;
  }
}
