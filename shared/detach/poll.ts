import type { ActionRequest, CompletionEvent, TerminalStatus } from '../contracts/index.ts';
import { isDetachError } from '../errors.ts';
import { callbackDue, deliverCallback } from './callbacks.ts';
import { mapLimit, taskPool } from './collections.ts';
import {
  abandonedEvent,
  completeOperation,
  eventFor,
  PUBLISH_GRACE_MS,
  publishStored,
} from './completion.ts';
import { passThrough } from './crash-points.ts';
import { type DispatchDeps, dispatchGroup, waitKeyOf } from './dispatch.ts';
import {
  type ActivityReport,
  type Clock,
  decidedFrom,
  type OperationRecord,
  type PendingCursor,
  type PendingItem,
  type ProgressUpdate,
  type ProviderRegistry,
} from './ports.ts';
import { partialByPlan } from './preflight.ts';
import { type UnreadableItem, unreadableOutcome } from './unreadable.ts';

export interface PollDeps extends DispatchDeps {
  providers: ProviderRegistry;
  clock: Clock;
  /** An operation still not finished this long after it was accepted (or submitted) ends as TimedOut. */
  timeoutMs: number;
  /** Describe calls in flight at once. */
  concurrency: number;
}

export interface PollSummary {
  examined: number;
  describeCalls: number;
  completed: Partial<Record<TerminalStatus, number>>;
  republished: number;
  /** Groups whose waiting requests were sent (or tried) this pass. */
  dispatched: number;
  /** Callback attempts made this pass (retries, and first attempts whose writer died). */
  callbacks: number;
  /** Callbacks that used up their attempts this pass (the alarm on callbacks given up counts them). */
  callbacksGivenUp: number;
  /** Requests not ended yet: waiting, being sent, or followed in the cloud. */
  open: number;
  /** Age of the oldest open request (seconds), for the alarm on requests that do not move. */
  oldestOpenAgeSeconds: number;
  failedBatches: { provider: string; region: string; activityIds: string[]; code: string; message: string }[];
  /** Items this pass could not process; each is left alone for a while, the others go on. */
  failedItems: { requestId: string; error: string }[];
  /** The pass stopped reading at its deadline: where the next one goes on. */
  resumeFrom?: PendingCursor;
}

export interface PassOptions {
  /** Go on from where a pass that stopped early left the pending index (only what it had not read). */
  from?: PendingCursor;
  /** Stop reading the pending index at this moment (epoch ms); what was read is still finished. */
  stopReadingAt?: number;
  /** Told where the next pass goes on from, as soon as this one stops reading early. */
  onStoppedReading?: (cursor: PendingCursor) => Promise<void>;
}

/** How a pass names the pending index in `failedItems` when reading it failed, and the poller's cursor. */
export const PENDING_INDEX = 'pending-index';
const POLL_CURSOR = 'poll-cursor';

const STATUS_OF_PHASE: Record<Exclude<ActivityReport['phase'], 'pending'>, TerminalStatus> = {
  succeeded: 'Succeeded',
  partial: 'Partial',
  failed: 'Failed',
};

/** How long the poller leaves an item alone after failing on it. */
const ITEM_BACKOFF_MS = 30_000;

/** Records sharing one activity (a merged call), and the region they are described in. */
interface Followed {
  provider: NonNullable<OperationRecord['request']>['provider'];
  region: string;
  activityId: string;
  records: OperationRecord[];
}

/** A Describe call's answer for its activities; undefined when the call failed (they are tried next pass). */
type Answer = Promise<ReadonlyMap<string, ActivityReport> | undefined>;

/** Progress writes go out a ledger transaction at a time (100 writes), or what is left at the end of a pass. */
const PROGRESS_BATCH = 100;

/** What one pass shares between its parts. */
interface Pass {
  deps: PollDeps;
  summary: PollSummary;
  /** Groups to dispatch at the end of the pass. */
  groups: Set<string>;
  /** Progress moved and not written yet. */
  progress: ProgressUpdate[];
  isolate: (id: string, work: () => Promise<void>) => Promise<void>;
}

/**
 * One pass of the poller over every operation that still needs it. Each item is handled on its own. The pass
 * streams: the activities of the pending index are described and followed a batch at a time as its pages
 * arrive (with `concurrency` batches in flight, which holds the reading back), so memory is mostly the work
 * in flight, not the open requests (what grows with them is an entry per activity described and per group).
 */
export async function pollActivities(deps: PollDeps, options: PassOptions = {}): Promise<PollSummary> {
  const summary: PollSummary = {
    examined: 0,
    describeCalls: 0,
    completed: {},
    republished: 0,
    dispatched: 0,
    callbacks: 0,
    callbacksGivenUp: 0,
    open: 0,
    oldestOpenAgeSeconds: 0,
    failedBatches: [],
    failedItems: [],
  };
  const isolate = async (requestId: string, work: () => Promise<void>) => {
    try {
      await work();
    } catch (error) {
      summary.failedItems.push({ requestId, error: errorName(error) });
      await deps.ledger.deferPoll(requestId, deps.clock.now().getTime() + ITEM_BACKOFF_MS).catch(() => {});
    }
  };
  const pass: Pass = { deps, summary, groups: new Set(), progress: [], isolate };
  const submitted = new Map<string, OperationRecord[]>();
  const pool = taskPool(deps.concurrency);
  // Activities not described yet, by region, until a batch of the API's limit is full.
  const unsent = new Map<string, Map<string, Followed>>();
  // Each activity is described once a pass, however many records share it: records of a merged call sit in
  // different shards, and one that comes after its activity's batch went out is followed with that answer.
  const answers = new Map<string, Answer>();
  const send = async (regionKey: string) => {
    const batch = [...(unsent.get(regionKey)?.values() ?? [])];
    unsent.delete(regionKey);
    if (batch.length === 0) return;
    const { promise: answer, resolve } = Promise.withResolvers<
      ReadonlyMap<string, ActivityReport> | undefined
    >();
    for (const entry of batch) answers.set(activityKeyOf(entry), answer);
    await pool.start(async () => {
      let reports: ReadonlyMap<string, ActivityReport> | undefined;
      try {
        reports = await describeBatch(deps, batch, summary);
      } finally {
        resolve(reports);
      }
      // Activities the cloud did not report (its answer failed) are only checked against the timeout.
      await followBatch(pass, batch, reports ?? new Map());
    });
  };

  /** One item of the index: ended, counted, or set to be followed (its activity described with others). */
  const take = async (item: PendingItem): Promise<void> => {
    summary.examined++;
    if (item.kind === 'unreadable') {
      await isolate(item.requestId, () => endUnreadable(deps, item, summary));
      return;
    }
    const { record } = item;
    const now = deps.clock.now();
    if (record.pollRetryAt && record.pollRetryAt > now.getTime()) {
      if (!record.event) summary.open++;
      return;
    }
    let following: Followed | undefined;
    await isolate(record.requestId, async () => {
      const abandoned = abandonedEvent(record, now);
      if (abandoned) {
        await publishStored(deps, abandoned, record.request?.callbackUrl);
        summary.republished++;
        return;
      }
      if (record.event) {
        if (deps.callbacks && callbackDue(record, now, PUBLISH_GRACE_MS)) {
          const state = await deliverCallback(
            deps.callbacks,
            record.event,
            record.request?.callbackUrl as string,
            record.callback,
          );
          summary.callbacks++;
          if (state.gaveUpAt) summary.callbacksGivenUp++;
        }
        // Otherwise its writer is publishing it now; if that writer died, a later pass publishes it.
        return;
      }
      if (!record.request) return;
      summary.open++;
      const age = (now.getTime() - Date.parse(record.createdAt)) / 1000;
      summary.oldestOpenAgeSeconds = Math.max(summary.oldestOpenAgeSeconds, Math.round(age));
      if (record.status === 'QUEUED') {
        // A request waiting for its group: the group is dispatched below, unless the request waited too long.
        const expired = timedOut(deps, record, undefined);
        if (expired) await end(deps, summary, record, expired);
        else pass.groups.add(waitKeyOf(record.request));
      } else if (record.status === 'SUBMITTING') {
        // Its intent is unresolved (a crash, a lost answer): the group's next dispatcher resolves it.
        pass.groups.add(waitKeyOf(record.request));
      } else if (record.status === 'IN_PROGRESS' && record.activityId) {
        following = {
          provider: record.request.provider,
          region: record.request.region,
          activityId: record.activityId,
          records: [record],
        };
      } else if (record.status === 'SUBMITTED') {
        const key = regionKeyOf(record.request);
        const list = submitted.get(key);
        if (list) list.push(record);
        else submitted.set(key, [record]);
      }
    });
    if (!following) return;
    const answer = answers.get(activityKeyOf(following));
    if (answer) {
      const late = following;
      await pool.start(async () => {
        await followBatch(pass, [late], (await answer) ?? new Map());
      });
      return;
    }
    const regionKey = regionKeyOf(following);
    const batch = unsent.get(regionKey) ?? new Map<string, Followed>();
    unsent.set(regionKey, batch);
    const entry = batch.get(following.activityId);
    if (entry) entry.records.push(record);
    else batch.set(following.activityId, following);
    if (batch.size >= deps.providers[following.provider].activityBatchLimit) await send(regionKey);
  };

  const listing = deps.ledger.listPending(options.from);
  try {
    for await (const item of listing) {
      if (options.stopReadingAt !== undefined && deps.clock.now().getTime() >= options.stopReadingAt) {
        summary.resumeFrom = listing.resumeFrom();
        break;
      }
      await take(item);
    }
  } catch (error) {
    // The index could not be read to its end: what was read is still finished, and the next pass goes on from
    // the page that failed; unless this pass went on from a cursor itself (one that fails is not kept).
    summary.failedItems.push({ requestId: PENDING_INDEX, error: errorName(error) });
    summary.resumeFrom = options.from ? undefined : listing.resumeFrom();
  }
  // Kept at once: what follows takes time, and an invocation that runs out of it must not lose the place.
  if (summary.resumeFrom) await options.onStoppedReading?.(summary.resumeFrom);
  for (const regionKey of [...unsent.keys()]) await send(regionKey);
  await pool.drain();
  await writeProgress(pass, pass.progress.splice(0));

  await mapLimit([...submitted.values()], deps.concurrency, (records) =>
    reconcileRegion(deps, records, summary, isolate),
  );
  // Waiting requests go out as their groups come free; a busy group is simply not taken now.
  await mapLimit([...pass.groups], deps.concurrency, (groupKey) =>
    isolate(groupKey, async () => {
      const result = await dispatchGroup(deps, groupKey);
      if (result.kind !== 'not-now') summary.dispatched++;
    }),
  );
  return summary;
}

const regionKeyOf = (of: { provider: string; region: string }) => `${of.provider}\u0000${of.region}`;
const activityKeyOf = (entry: Followed) => `${regionKeyOf(entry)}\u0000${entry.activityId}`;

/** Time kept, at the end of an invocation, to finish what a pass read (its Describe calls and writes). */
const FINISH_MS = 15_000;

/**
 * When a pass in an invocation with `remainingMs` left stops reading: `FINISH_MS` before its end, but never
 * in the first half of it (a short timeout would otherwise stop every pass before its first item).
 */
export const stopReadingAtFor = (now: number, remainingMs: number): number =>
  now + Math.max(remainingMs - FINISH_MS, remainingMs / 2);

const failureOf = (error: unknown) =>
  isDetachError(error)
    ? { code: error.code, message: error.message }
    : { code: errorName(error), message: 'An unexpected error; the batch is tried again next pass.' };

const errorName = (error: unknown): string =>
  isDetachError(error) ? error.code : error instanceof Error ? error.name : 'Error';

async function count(summary: PollSummary, event: CompletionEvent, won: Promise<boolean>): Promise<boolean> {
  if (!(await won)) return false;
  summary.completed[event.status] = (summary.completed[event.status] ?? 0) + 1;
  return true;
}

/**
 * Ends a record with the outcome decided from it, only while it is still as it was read (its status and intent):
 * a dispatcher that took it meanwhile, or another pass that ended it, wins, and this outcome is dropped.
 */
const end = (deps: PollDeps, summary: PollSummary, record: OperationRecord, event: CompletionEvent) =>
  count(summary, event, completeOperation(deps, event, record.request?.callbackUrl, decidedFrom(record)));

/**
 * An item the current contract cannot read. An event stored with it (an earlier release ended it) is its outcome:
 * published if it has not been. Without one it ends from the state it was found in: Failed if no call of it can
 * be running, TimedOut (which claims nothing) once the operation timeout has passed if one may be.
 */
async function endUnreadable(deps: PollDeps, item: UnreadableItem, summary: PollSummary): Promise<void> {
  const now = deps.clock.now();
  const decision = unreadableOutcome(item, now, deps.timeoutMs);
  if (decision.kind === 'wait') {
    summary.open++;
    return;
  }
  if (decision.kind === 'publish-stored') {
    await deps.publisher.publish(decision.event);
    await deps.ledger.markPublished(item.requestId, now);
    summary.republished++;
    return;
  }
  if (decision.kind === 'forget') {
    await deps.ledger.markPublished(item.requestId, now);
    return;
  }
  const event = eventFor(
    {
      requestId: item.requestId,
      action: item.action ?? 'detach-instances',
      attempts: 0,
      createdAt: item.createdAt ?? now.toISOString(),
    },
    decision.status,
    now,
    {
      error: {
        code: 'LedgerRecordUnreadable',
        kind: 'fatal',
        message: `The ledger record could not be read: ${item.reason}`,
      },
    },
  );
  // Written only if the item is still as found; otherwise the next pass sees what it became.
  if (await deps.ledger.complete(event, { status: item.status, intentId: item.intentId })) {
    summary.completed[event.status] = (summary.completed[event.status] ?? 0) + 1;
    await publishStored(deps, event);
  }
}

export const operationOf = (record: OperationRecord): ActionRequest =>
  ({ action: record.action, request: record.request }) as ActionRequest;

/** Operations with no activity to follow: done when the cloud shows that what they took out is gone. */
async function reconcileRegion(
  deps: PollDeps,
  records: OperationRecord[],
  summary: PollSummary,
  isolate: (id: string, work: () => Promise<void>) => Promise<void>,
): Promise<void> {
  const { provider, region } = (records[0] as OperationRecord).request as NonNullable<
    OperationRecord['request']
  >;
  let done: Map<string, boolean>;
  try {
    summary.describeCalls++;
    done = await deps.providers[provider].reconcile(region, records.map(operationOf));
  } catch (error) {
    const activityIds = records.map((record) => record.requestId);
    summary.failedBatches.push({ provider, region, activityIds, ...failureOf(error) });
    // A read that keeps failing must not keep them open for ever: past the timeout they end TimedOut.
    done = new Map();
  }
  for (const record of records) {
    await isolate(record.requestId, async () => {
      const now = deps.clock.now();
      const event = done.get(record.requestId)
        ? eventFor(record, 'Succeeded', now, {
            cloud: { statusCode: 'Reconciled', statusMessage: 'No longer attached to the scaling group.' },
          })
        : timedOut(deps, record, undefined);
      if (event) await end(deps, summary, record, event);
    });
  }
}

/**
 * One Describe call for a batch of activities of one region; what it could not describe is absent (the failure
 * is recorded). One bad activity id must not hold its whole batch: a refusal for good is narrowed down by halves,
 * so the others are described and the bad one alone runs into its timeout.
 */
async function describeBatch(
  deps: PollDeps,
  batch: Followed[],
  summary: PollSummary,
): Promise<ReadonlyMap<string, ActivityReport>> {
  const { provider, region } = batch[0] as Followed;
  const activityIds = batch.map((entry) => entry.activityId);
  try {
    summary.describeCalls++;
    const reports = await deps.providers[provider].describeActivities(region, activityIds);
    return new Map(reports.map((report) => [report.activityId, report]));
  } catch (error) {
    if (isDetachError(error) && error.kind === 'fatal' && batch.length > 1) {
      const half = Math.ceil(batch.length / 2);
      const parts = await Promise.all([
        describeBatch(deps, batch.slice(0, half), summary),
        describeBatch(deps, batch.slice(half), summary),
      ]);
      return new Map(parts.flatMap((part) => [...part]));
    }
    // One region's failure must not stop the others; these operations are simply looked at again next pass.
    summary.failedBatches.push({ provider, region, activityIds, ...failureOf(error) });
    return new Map();
  }
}

async function followBatch(
  pass: Pass,
  batch: Followed[],
  reports: ReadonlyMap<string, ActivityReport>,
): Promise<void> {
  // Activities still running only have their progress noted (or time out), together; an activity that ended is
  // followed one at a time, as its follow-up reads the cloud, which `concurrency` bounds.
  const running: Promise<void>[] = [];
  for (const entry of batch) {
    const report = reports.get(entry.activityId);
    const follow = () => pass.isolate(entry.activityId, () => followActivity(pass, entry, report));
    if (!report || report.phase === 'pending') running.push(follow());
    else await follow();
  }
  await Promise.all(running);
  if (pass.progress.length >= PROGRESS_BATCH) await writeProgress(pass, pass.progress.splice(0));
}

/** Progress is for the status API only: a write that fails is tried again next pass, nothing waits for it. */
async function writeProgress(pass: Pass, updates: ProgressUpdate[]): Promise<void> {
  if (updates.length === 0) return;
  const failed = await pass.deps.ledger.recordProgress(updates).catch((error: unknown) => {
    const name = errorName(error);
    for (const { requestId } of updates) pass.summary.failedItems.push({ requestId, error: name });
    return [];
  });
  for (const requestId of failed) pass.summary.failedItems.push({ requestId, error: 'ProgressNotWritten' });
}

async function followActivity(
  pass: Pass,
  entry: Followed,
  report: ActivityReport | undefined,
): Promise<void> {
  const { deps, summary } = pass;
  const first = entry.records[0] as OperationRecord;
  const waitKey = waitKeyOf(first.request as NonNullable<OperationRecord['request']>);
  if (!report || report.phase === 'pending') {
    let expired = false;
    for (const record of entry.records) {
      const timeout = timedOut(deps, record, report);
      if (timeout) {
        expired = (await end(deps, summary, record, timeout)) || expired;
        continue;
      }
      // The status API shows the cloud's progress; it is written only when it moved.
      if (report && progressMoved(record, report)) {
        pass.progress.push({
          requestId: record.requestId,
          progress: {
            statusCode: report.statusCode,
            ...(report.progress !== undefined && { progress: report.progress }),
          },
        });
      }
    }
    // Nothing follows that activity any more: the group is not held for it until `activityUntil`.
    if (expired) {
      await deps.ledger.finishGroupActivity(waitKey, entry.activityId);
      pass.groups.add(waitKey);
    }
    return;
  }
  // The group is free again first: a crash after this only repeats the completion, never blocks the group.
  await deps.ledger.finishGroupActivity(waitKey, entry.activityId);
  pass.groups.add(waitKey);
  await (deps.checkpoint ?? passThrough)('poll.after-group-freed');
  // What each request's own targets did: the activity does not list them, and a merged call's end is not each
  // request's. One read for all of them.
  const gone = report.phase === 'succeeded' ? undefined : await whatLeft(deps, entry.records);
  for (const record of entry.records) {
    await pass.isolate(record.requestId, async () => {
      const event =
        gone === 'unread' ? timedOut(deps, record, report) : judgeEnded(deps, record, report, gone);
      // Unread and not timed out yet: the item is left for a while, and read again.
      if (!event) throw new Error('GroupNotRead');
      await end(deps, summary, record, event);
    });
  }
}

/** The smallest move of the cloud's progress (percentage points) worth a write: each costs write units. */
const PROGRESS_STEP = 10;

/**
 * Worth writing for the status API: the cloud's status word changed, or its progress first appeared or moved
 * by PROGRESS_STEP points or more since the one written. A 60 s activity passed every 5 s writes about 6
 * times instead of 12; the end itself is written by the completion, whatever the last progress.
 */
const progressMoved = (record: OperationRecord, report: ActivityReport) => {
  const written = record.cloudProgress;
  if (report.statusCode !== written?.statusCode) return true;
  if (report.progress === undefined) return false;
  if (written?.progress === undefined) return true;
  return Math.abs(report.progress - written.progress) >= PROGRESS_STEP;
};

/** What the group showed after an activity that did not succeed. */
type Gone = { remaining: ReadonlySet<string> } | { reconciled: ReadonlyMap<string, boolean> };

/**
 * After an activity that did not succeed: which instances are still in the group (instance actions), or whether
 * each server group request's targets are gone; 'unread' when the read failed.
 */
async function whatLeft(deps: PollDeps, records: OperationRecord[]): Promise<Gone | 'unread'> {
  const first = records[0] as OperationRecord;
  const request = first.request as NonNullable<OperationRecord['request']>;
  const provider = deps.providers[request.provider];
  try {
    if (!('instanceIds' in request))
      return { reconciled: await provider.reconcile(request.region, records.map(operationOf)) };
    const ids = [...new Set(records.flatMap((r) => (r.request as { instanceIds: string[] }).instanceIds))];
    return { remaining: new Set(await provider.remainingInstances(operationOf(first), ids)) };
  } catch {
    return 'unread';
  }
}

/**
 * A request's outcome when its activity ended: from its own targets, not from the activity alone (a merged
 * call's Partial may have done all of one request and none of another). Succeeded when all its instances (or
 * its server groups) left, Failed when none did, Partial otherwise; a success with instances the preflight found
 * not in the group is Partial.
 */
export function judgeEnded(
  deps: Pick<PollDeps, 'clock'>,
  record: OperationRecord,
  report: ActivityReport,
  gone: Gone | undefined,
): CompletionEvent {
  const request = record.request as NonNullable<OperationRecord['request']> & {
    instanceIds?: string[];
    ignoreInvalidInstance?: boolean;
  };
  const notInGroup = record.plan?.notInGroup ?? [];
  const named = (request.instanceIds ?? []).filter((id) => !notInGroup.includes(id));
  const remaining = gone && 'remaining' in gone ? gone.remaining : undefined;
  const detached = named.filter((id) => !remaining?.has(id));
  let status: TerminalStatus;
  if (!gone) status = STATUS_OF_PHASE[report.phase as Exclude<ActivityReport['phase'], 'pending'>];
  else if ('reconciled' in gone) status = gone.reconciled.get(record.requestId) ? 'Succeeded' : 'Failed';
  else status = detached.length === named.length ? 'Succeeded' : detached.length === 0 ? 'Failed' : 'Partial';
  if (status === 'Succeeded' && partialByPlan(record.plan, request)) status = 'Partial';
  const instances =
    request.instanceIds && (status !== 'Succeeded' || notInGroup.length > 0)
      ? {
          detached,
          notDetached: named.filter((id) => remaining?.has(id) ?? false),
          ...(notInGroup.length > 0 && { notInGroup }),
        }
      : undefined;
  return eventFor(record, status, deps.clock.now(), {
    cloud: cloudOf(report),
    ...(instances && { instances }),
    ...(status === 'Failed' && {
      error: {
        code: report.errorCode || `Activity${report.statusCode}`,
        message:
          report.errorMessage || report.statusMessage || `The scaling activity ended ${report.statusCode}.`,
      },
    }),
  });
}

function timedOut(
  deps: PollDeps,
  record: OperationRecord,
  report: ActivityReport | undefined,
): CompletionEvent | undefined {
  const now = deps.clock.now();
  const startedAt = Date.parse(record.submittedAt ?? record.createdAt);
  if (now.getTime() - startedAt < deps.timeoutMs) return undefined;
  const seconds = Math.round(deps.timeoutMs / 1000);
  return eventFor(record, 'TimedOut', now, {
    ...(report && { cloud: cloudOf(report) }),
    error: {
      code: 'TimedOut',
      message: report
        ? `The activity was still ${report.statusCode} after ${seconds} s.`
        : record.activityId
          ? `The cloud did not report the activity within ${seconds} s.`
          : record.status === 'QUEUED'
            ? `The request waited ${seconds} s for its scaling group without being taken${record.lastError ? `; the cloud's last answer was ${record.lastError.code}: ${record.lastError.message}` : '.'}`
            : `The cloud did not show the change within ${seconds} s.`,
    },
  });
}

function cloudOf(report: ActivityReport): NonNullable<CompletionEvent['cloud']> {
  return {
    statusCode: report.statusCode,
    ...(report.statusMessage && { statusMessage: report.statusMessage }),
    ...(report.progress !== undefined && { progress: report.progress }),
    ...(report.errorCode && { errorCode: report.errorCode }),
    ...(report.errorMessage && { errorMessage: report.errorMessage }),
  };
}

export interface PollLoop {
  /** A pass starts every `intervalMs` (one that takes longer is followed at once). */
  intervalMs: number;
  /** No pass starts after this (epoch ms): the invocation's time, less a margin. */
  deadline: number;
  /**
   * A pass stops reading the pending index at this moment (epoch ms), leaving time to finish what it read
   * before the invocation ends; the next pass, in this invocation or the next, goes on from there.
   */
  stopReadingAt?: number;
  sleep: (ms: number) => Promise<void>;
  /**
   * Called once, as the loop ends at its deadline with work left (something open, failed, or an index not read
   * to its end), with the moment its last pass started: where passes are short invocations, this schedules the
   * next one (a delayed message) instead of sleeping in this one.
   */
  onWorkLeft?: (lastPassStartedAt: number) => Promise<void>;
}

/**
 * Passes every `intervalMs` until the deadline, or until nothing is left to follow: no open request (waiting,
 * being sent, or in the cloud) and nothing that failed, seen by a pass that read the whole index. A 1-minute
 * schedule alone would report an activity's end up to a minute late; looping inside the invocation brings that
 * to about one interval. The passes keep a fixed rate (the pause is the interval less the pass), so a long pass
 * does not stretch the delay further. A pass that cannot read everything in time stops at `stopReadingAt`, and
 * the next one (the next invocation's, through the ledger) starts where it stopped, so the far end of the index
 * is reached however long one pass would take.
 */
export async function pollRepeatedly(deps: PollDeps, loop: PollLoop): Promise<PollSummary[]> {
  const passes: PollSummary[] = [];
  let saved = await deps.ledger.loadPollCursor();
  let from = saved;
  // A failure to keep the place costs a re-read, never an item: it is reported with the pass, not thrown.
  const unsaved: PollSummary['failedItems'] = [];
  const keep = async (cursor: PendingCursor | undefined) => {
    if (cursor === saved) return;
    try {
      await deps.ledger.savePollCursor(cursor);
      saved = cursor;
    } catch (error) {
      unsaved.push({ requestId: POLL_CURSOR, error: errorName(error) });
    }
  };
  for (;;) {
    const started = deps.clock.now().getTime();
    const summary = await pollActivities(deps, {
      ...(from && { from }),
      ...(loop.stopReadingAt !== undefined && { stopReadingAt: loop.stopReadingAt }),
      onStoppedReading: keep,
    });
    passes.push(summary);
    const wholeIndex = from === undefined && summary.resumeFrom === undefined;
    from = summary.resumeFrom;
    // Written only when it changed: stopped early (kept at once, above), or read to the end after a resume.
    await keep(from);
    summary.failedItems.push(...unsaved.splice(0));
    const nothingLeft =
      wholeIndex &&
      summary.open === 0 &&
      summary.failedBatches.length === 0 &&
      summary.failedItems.length === 0;
    const next = started + loop.intervalMs;
    if (nothingLeft) return passes;
    if (next >= loop.deadline) {
      await loop.onWorkLeft?.(started);
      return passes;
    }
    await loop.sleep(Math.max(0, next - deps.clock.now().getTime()));
  }
}
