import type { ActionRequest, CompletionEvent, TerminalStatus } from '../contracts/index.ts';
import { isDetachError } from '../errors.ts';
import { callbackDue, deliverCallback } from './callbacks.ts';
import { chunk, mapLimit } from './collections.ts';
import {
  abandonedEvent,
  completeOperation,
  eventFor,
  PUBLISH_GRACE_MS,
  publishStored,
  unpublishedEvent,
} from './completion.ts';
import { type DispatchDeps, dispatchGroup, waitKeyOf } from './dispatch.ts';
import type { ActivityReport, Clock, OperationRecord, ProviderName, ProviderRegistry } from './ports.ts';

export interface PollDeps extends DispatchDeps {
  providers: ProviderRegistry;
  clock: Clock;
  /** An operation still not finished this long after submission ends as TimedOut. */
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
  stillInProgress: number;
  failedBatches: { provider: string; region: string; activityIds: string[]; code: string; message: string }[];
}

const STATUS_OF_PHASE: Record<Exclude<ActivityReport['phase'], 'pending'>, TerminalStatus> = {
  succeeded: 'Succeeded',
  partial: 'Partial',
  failed: 'Failed',
};

/** One pass of the poller over every operation that still needs it. */
export async function pollActivities(deps: PollDeps): Promise<PollSummary> {
  const summary: PollSummary = {
    examined: 0,
    describeCalls: 0,
    completed: {},
    republished: 0,
    dispatched: 0,
    callbacks: 0,
    stillInProgress: 0,
    failedBatches: [],
  };
  const inProgress = new Map<string, OperationRecord[]>();
  const submitted = new Map<string, OperationRecord[]>();
  const add = (groups: Map<string, OperationRecord[]>, record: OperationRecord) => {
    const request = record.request as NonNullable<OperationRecord['request']>;
    const key = `${request.provider}\u0000${request.region}`;
    groups.set(key, [...(groups.get(key) ?? []), record]);
  };
  const groups = new Set<string>();
  for await (const record of deps.ledger.listPending()) {
    summary.examined++;
    const now = deps.clock.now();
    const abandoned = abandonedEvent(record, now);
    if (abandoned) {
      await publishStored(deps, abandoned, record.request?.callbackUrl);
      summary.republished++;
    } else if (deps.callbacks && record.event && callbackDue(record, now, PUBLISH_GRACE_MS)) {
      await deliverCallback(
        deps.callbacks,
        record.event,
        record.request?.callbackUrl as string,
        record.callback,
      );
      summary.callbacks++;
    } else if (unpublishedEvent(record)) {
      // Its writer is publishing it now; if that writer died, a later pass publishes it.
    } else if (record.status === 'QUEUED' && record.request) {
      // A request waiting for its group: the group is dispatched below, unless the request waited too long.
      const expired = timedOut(deps, record, undefined);
      if (expired) await completeOperation(deps, expired, record.request.callbackUrl);
      else groups.add(waitKeyOf(record.request) as string);
    } else if (record.status === 'IN_PROGRESS' && record.activityId && record.request)
      add(inProgress, record);
    else if (record.status === 'SUBMITTED' && record.request) add(submitted, record);
  }

  const batches = [...inProgress.values()].flatMap((records) => {
    const provider = (records[0] as OperationRecord).request?.provider as ProviderName;
    return chunk(records, deps.providers[provider].activityBatchLimit);
  });
  await mapLimit(batches, deps.concurrency, (batch) => pollBatch(deps, batch, summary, groups));
  await mapLimit([...submitted.values()], deps.concurrency, (records) =>
    reconcileRegion(deps, records, summary),
  );
  // Waiting requests go out as their groups come free; a busy group is simply not taken now.
  await mapLimit([...groups], deps.concurrency, async (groupKey) => {
    const result = await dispatchGroup(deps, groupKey);
    if (result.kind !== 'not-now') summary.dispatched++;
  });
  return summary;
}

export const operationOf = (record: OperationRecord): ActionRequest =>
  ({ action: record.action, request: record.request }) as ActionRequest;

/** Operations with no activity to follow: done when the cloud shows that what they took out is gone. */
async function reconcileRegion(
  deps: PollDeps,
  records: OperationRecord[],
  summary: PollSummary,
): Promise<void> {
  const { provider, region } = (records[0] as OperationRecord).request as NonNullable<
    OperationRecord['request']
  >;
  let done: Map<string, boolean>;
  try {
    summary.describeCalls++;
    done = await deps.providers[provider].reconcile(region, records.map(operationOf));
  } catch (error) {
    if (!isDetachError(error)) throw error;
    const activityIds = records.map((record) => record.requestId);
    summary.failedBatches.push({ provider, region, activityIds, code: error.code, message: error.message });
    return;
  }
  for (const record of records) {
    const now = deps.clock.now();
    const event = done.get(record.requestId)
      ? eventFor(record, 'Succeeded', now, {
          cloud: { statusCode: 'Reconciled', statusMessage: 'No longer attached to the scaling group.' },
        })
      : timedOut(deps, record, undefined);
    if (!event) {
      summary.stillInProgress++;
      continue;
    }
    if (await completeOperation(deps, event, record.request?.callbackUrl))
      summary.completed[event.status] = (summary.completed[event.status] ?? 0) + 1;
  }
}

async function pollBatch(
  deps: PollDeps,
  batch: OperationRecord[],
  summary: PollSummary,
  groups: Set<string>,
): Promise<void> {
  const first = batch[0] as OperationRecord;
  const { provider, region } = first.request as NonNullable<OperationRecord['request']>;
  const activityIds = batch.map((record) => record.activityId as string);
  let reports: ActivityReport[];
  try {
    summary.describeCalls++;
    reports = await deps.providers[provider].describeActivities(region, activityIds);
  } catch (error) {
    // One region's failure must not stop the others; these operations are simply looked at again next pass.
    if (!isDetachError(error)) throw error;
    summary.failedBatches.push({ provider, region, activityIds, code: error.code, message: error.message });
    return;
  }
  const byId = new Map(reports.map((report) => [report.activityId, report]));
  for (const record of batch) {
    let event: CompletionEvent | undefined;
    try {
      event = await decide(deps, record, byId.get(record.activityId as string));
    } catch (error) {
      // Reading the partial detail failed: this one is decided next pass, with its detail.
      if (!isDetachError(error)) throw error;
      summary.failedBatches.push({
        provider,
        region,
        activityIds: [record.activityId as string],
        code: error.code,
        message: error.message,
      });
      continue;
    }
    if (!event) {
      summary.stillInProgress++;
      const report = byId.get(record.activityId as string);
      // The status API shows the cloud's progress; it is written only when it moved.
      if (
        report &&
        (report.statusCode !== record.cloudProgress?.statusCode ||
          report.progress !== record.cloudProgress?.progress)
      ) {
        await deps.ledger.recordProgress(record.requestId, {
          statusCode: report.statusCode,
          ...(report.progress !== undefined && { progress: report.progress }),
        });
      }
      continue;
    }
    const waitKey = record.request && waitKeyOf(record.request);
    if (waitKey) {
      // The group is free again first: a crash after this only repeats the completion, never blocks the group.
      await deps.ledger.finishGroupActivity(waitKey, record.activityId as string);
      groups.add(waitKey);
    }
    if (await completeOperation(deps, event, record.request?.callbackUrl)) {
      summary.completed[event.status] = (summary.completed[event.status] ?? 0) + 1;
    }
  }
}

async function decide(
  deps: PollDeps,
  record: OperationRecord,
  report: ActivityReport | undefined,
): Promise<CompletionEvent | undefined> {
  if (!report || report.phase === 'pending') return timedOut(deps, record, report);
  const status = STATUS_OF_PHASE[report.phase];
  const instances = status === 'Succeeded' ? undefined : await instanceOutcome(deps, record);
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

/** Which of the request's instances left the group: the cloud's activity does not list them for a detach. */
async function instanceOutcome(
  deps: PollDeps,
  record: OperationRecord,
): Promise<CompletionEvent['instances']> {
  const request = record.request;
  if (!request || !('instanceIds' in request)) return undefined;
  const remaining = new Set(
    await deps.providers[request.provider].instancesStillInGroup(
      request.region,
      request.scalingGroupId,
      request.instanceIds,
    ),
  );
  return {
    detached: request.instanceIds.filter((id) => !remaining.has(id)),
    notDetached: request.instanceIds.filter((id) => remaining.has(id)),
  };
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
  /** Pause between passes. */
  intervalMs: number;
  /** No pass starts after this (epoch ms): the invocation's time, less a margin. */
  deadline: number;
  sleep: (ms: number) => Promise<void>;
}

/**
 * Passes every `intervalMs` until the deadline, or until nothing is left to follow. A 1-minute schedule alone
 * would report an activity's end up to a minute late; looping inside the invocation brings that to about one
 * interval.
 */
export async function pollRepeatedly(deps: PollDeps, loop: PollLoop): Promise<PollSummary[]> {
  const passes: PollSummary[] = [];
  for (;;) {
    const summary = await pollActivities(deps);
    passes.push(summary);
    const nothingLeft =
      summary.examined === 0 || (summary.stillInProgress === 0 && summary.failedBatches.length === 0);
    if (nothingLeft || deps.clock.now().getTime() + loop.intervalMs >= loop.deadline) return passes;
    await loop.sleep(loop.intervalMs);
  }
}
