import { type ActionRequest, actionRequestOf, type CompletionEvent, targetsOf } from '../contracts/index.ts';
import { isDetachError } from '../errors.ts';
import { halvesOf, type NonEmpty } from './collections.ts';
import { completeOperation, eventFor, publishStored } from './completion.ts';
import { groupKeyOf } from './dispatch.ts';
import { type Gone, hasEnded, judgeEnded, progressMoved, timedOut } from './judge-ended.ts';
import type { PollDeps, PollSummary } from './poll.ts';
import {
  type ActivityReport,
  decidedFrom,
  type OperationRecord,
  type ProgressUpdate,
  type ProviderName,
} from './ports.ts';
import { providerFor } from './provider-for.ts';
import { type UnreadableItem, unreadableOutcome } from './unreadable.ts';

/** Records sharing one activity (a merged call), and the account and region they are described in. */
export interface Followed {
  provider: ProviderName;
  region: string;
  /** The member account (issue #21): its own credentials, its own batches. */
  account?: string | undefined;
  activityId: string;
  records: [OperationRecord, ...OperationRecord[]];
}

/** Progress writes go out a ledger transaction at a time (100 writes), or what is left at the end of a pass. */
export const PROGRESS_BATCH = 100;

/** What one pass shares between its parts. */
export interface Pass {
  deps: PollDeps;
  summary: PollSummary;
  /** Groups to dispatch at the end of the pass. */
  groups: Set<string>;
  /** Progress moved and not written yet. */
  progress: ProgressUpdate[];
  isolate: (id: string, work: () => Promise<void>) => Promise<void>;
}

export const failureOf = (error: unknown) =>
  isDetachError(error)
    ? { code: error.code, message: error.message }
    : { code: errorName(error), message: 'An unexpected error; the batch is tried again next pass.' };

export const errorName = (error: unknown): string =>
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
export const end = (deps: PollDeps, summary: PollSummary, record: OperationRecord, event: CompletionEvent) =>
  count(summary, event, completeOperation(deps, event, record.request.callbackUrl, decidedFrom(record)));

export /**
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

export const operationOf = (record: OperationRecord): ActionRequest => actionRequestOf(record);

export /** Operations with no activity to follow: done when the cloud shows that what they took out is gone. */
async function reconcileRegion(
  deps: PollDeps,
  records: NonEmpty<OperationRecord>,
  summary: PollSummary,
  isolate: (id: string, work: () => Promise<void>) => Promise<void>,
): Promise<void> {
  const { request } = records[0];
  const { provider, region } = request;
  let done: Map<string, boolean>;
  try {
    summary.describeCalls++;
    done = await providerFor(deps, request).reconcile(region, records.map(operationOf));
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

export /**
 * One Describe call for a batch of activities of one region; what it could not describe is absent (the failure
 * is recorded). One bad activity id must not hold its whole batch: a refusal for good is narrowed down by halves,
 * so the others are described and the bad one alone runs into its timeout.
 */
async function describeBatch(
  deps: PollDeps,
  batch: NonEmpty<Followed>,
  summary: PollSummary,
): Promise<ReadonlyMap<string, ActivityReport>> {
  const { provider, region, account } = batch[0];
  const activityIds = batch.map((entry) => entry.activityId);
  try {
    summary.describeCalls++;
    const reports = await providerFor(deps, { provider, account }).describeActivities(region, activityIds);
    return new Map(reports.map((report) => [report.activityId, report]));
  } catch (error) {
    const halves = isDetachError(error) && error.kind === 'fatal' ? halvesOf(batch) : undefined;
    if (halves) {
      const parts = await Promise.all(halves.map((half) => describeBatch(deps, half, summary)));
      return new Map(parts.flatMap((part) => [...part]));
    }
    // One region's failure must not stop the others; these operations are simply looked at again next pass.
    summary.failedBatches.push({
      provider,
      region,
      ...(account && { account }),
      activityIds,
      ...failureOf(error),
    });
    return new Map();
  }
}

export async function followBatch(
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

export /** Progress is for the status API only: a write that fails is tried again next pass, nothing waits for it. */
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
  const waitKey = groupKeyOf(entry.records[0].request);
  if (!report || !hasEnded(report)) {
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

/**
 * After an activity that did not succeed: which instances are still in the group (instance actions), or whether
 * each server group request's targets are gone; 'unread' when the read failed.
 */
async function whatLeft(deps: PollDeps, records: NonEmpty<OperationRecord>): Promise<Gone | 'unread'> {
  const [first] = records;
  const { request } = first;
  const provider = providerFor(deps, request);
  try {
    if (!('instanceIds' in request))
      return { reconciled: await provider.reconcile(request.region, records.map(operationOf)) };
    const ids = [...new Set(records.flatMap((r) => targetsOf(r.request).instanceIds ?? []))];
    return { remaining: new Set(await provider.remainingInstances(operationOf(first), ids)) };
  } catch {
    return 'unread';
  }
}
