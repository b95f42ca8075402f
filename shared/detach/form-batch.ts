import { type CompletionEvent, withInstanceIds } from '../contracts/index.ts';
import { isDetachError } from '../errors.ts';
import type { NonEmpty } from './collections.ts';
import { eventFor } from './completion.ts';
import type { DispatchDeps } from './dispatch.ts';
import { backoffUntil, LostLease, providerOf, publishAll } from './make-call.ts';
import { decideBatch, fitOneCall, instancesOf, missingFrom, wantsPreflight } from './plan-batch.ts';
import type { Fence, OperationRecord } from './ports.ts';
import type { GroupSnapshot, Plan } from './preflight.ts';

/** Instance ids one call takes: ESS InstanceId.N is 1..20; Tencent documents none, 100 is what we follow. */
const CALL_LIMIT: Record<string, number> = { aliyun: 20, tencent: 100 };
/** Requests one intent serves: its transaction writes each of them, the group and an activity claim (DynamoDB: 100 items). */
const REQUESTS_PER_INTENT = 98;

/** Requests of the instance actions on API 3.0 / ESS merge into one call; the others go one at a time. */
const mergeable = (record: OperationRecord): boolean => {
  const { request } = record;
  return 'instanceIds' in request && !('apiVersion' in request && request.apiVersion === 'v2');
};

/** The fields of a request that say nothing about the call it makes. */
const BOOKKEEPING: ReadonlySet<string> = new Set([
  'requestId',
  'instanceIds',
  'callbackUrl',
  'clientToken',
  'preflight',
  'dryRun',
]);

/** Requests merge into one call only when everything but their instances and bookkeeping is the same. */
export function mergeKey(record: OperationRecord): string {
  const options = Object.fromEntries(Object.entries(record.request).filter(([key]) => !BOOKKEEPING.has(key)));
  // A request a merged call was refused for goes alone next, so that its refusal is its own, not its neighbours'.
  const alone =
    !mergeable(record) || record.alone || record.lastError?.kind === 'fatal' ? record.requestId : '';
  return JSON.stringify([record.action, options, alone]);
}

export type Formed =
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
export async function formBatch(
  deps: DispatchDeps,
  fence: Fence,
  candidates: NonEmpty<OperationRecord>,
): Promise<Formed> {
  const [first] = candidates;
  const { request } = first;
  // Server group requests have no plan and no dry run; v2 requests take the path below alone (no snapshot).
  if (!('instanceIds' in request)) return { kind: 'call', records: [first], plans: new Map(), ended: 0 };
  const fitting = fitOneCall(candidates, {
    instanceLimit: CALL_LIMIT[request.provider] ?? 20,
    requestLimit: deps.requestsPerCall ?? REQUESTS_PER_INTENT,
  });
  const toRead = fitting.filter((record) => !record.plan && wantsPreflight(record));
  const read = await readGroup(deps, first, toRead);
  if (read.kind === 'wait') return { kind: 'wait', retryAfter: read.retryAfter, ended: 0 };
  if (read.kind === 'refused') {
    const formed: Formed = { kind: 'call', records: [], plans: new Map(), ended: read.events.length };
    return endAll(deps, fence, read.events, toRead, formed);
  }
  const missing = missingFrom(read.snapshot, toRead);
  const takenOut =
    missing.length > 0 ? await deps.ledger.takenOut(fence.groupKey, missing) : new Set<string>();
  const decision = decideBatch(fitting, read.snapshot, takenOut, deps.clock.now());
  const formed: Formed = {
    kind: 'call',
    records: decision.call,
    plans: decision.plans,
    instanceIds: decision.instanceIds,
    ended: decision.ended.length,
  };
  return decision.ended.length > 0 ? endAll(deps, fence, decision.ended, fitting, formed) : formed;
}

type GroupRead =
  | { kind: 'read'; snapshot: GroupSnapshot | undefined }
  /** The cloud runs an activity we did not start, or could not be read for now. */
  | { kind: 'wait'; retryAfter: number }
  /** A read the cloud refuses for good (credentials, permissions): the requests that needed it end. */
  | { kind: 'refused'; events: CompletionEvent[] };

/** The group and the named instances, for the requests that want a preflight (none: no read). */
async function readGroup(
  deps: DispatchDeps,
  first: OperationRecord,
  toRead: readonly OperationRecord[],
): Promise<GroupRead> {
  if (toRead.length === 0) return { kind: 'read', snapshot: undefined };
  let snapshot: GroupSnapshot | undefined;
  try {
    snapshot = await providerOf(deps, first).inspect(withInstanceIds(first, toRead.flatMap(instancesOf)));
  } catch (error) {
    if (!isDetachError(error)) throw error;
    if (error.retryable) return { kind: 'wait', retryAfter: backoffUntil(deps, error.kind, 1) };
    const now = deps.clock.now();
    const code = `Preflight.${error.code}`;
    const events = toRead.map((record) =>
      eventFor(record, 'Failed', now, { error: { code, kind: 'fatal', message: error.message } }),
    );
    return { kind: 'refused', events };
  }
  // The cloud runs an activity we did not start: wait for it rather than be refused.
  if (snapshot?.activityInProgress) return { kind: 'wait', retryAfter: backoffUntil(deps, 'busy', 1) };
  return { kind: 'read', snapshot };
}

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
