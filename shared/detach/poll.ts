import type { CompletionEvent, TerminalStatus } from '../contracts/index.ts';
import { isDetachError } from '../errors.ts';
import {
  type CompletionDeps,
  completeOperation,
  eventFor,
  publishStored,
  unpublishedEvent,
} from './completion.ts';
import type { ActivityReport, Clock, OperationRecord, ProviderName, ProviderRegistry } from './ports.ts';

export interface PollDeps extends CompletionDeps {
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
  stillInProgress: number;
  failedBatches: { provider: string; region: string; activityIds: string[]; code: string; message: string }[];
}

const STATUS_OF_PHASE: Record<Exclude<ActivityReport['phase'], 'pending'>, TerminalStatus> = {
  succeeded: 'Succeeded',
  partial: 'Partial',
  failed: 'Failed',
};

export function chunk<T>(items: readonly T[], size: number): T[][] {
  const chunks: T[][] = [];
  for (let i = 0; i < items.length; i += size) chunks.push(items.slice(i, i + size));
  return chunks;
}

/** Runs `work` over `items` with at most `limit` in flight. */
export async function mapLimit<T, R>(
  items: readonly T[],
  limit: number,
  work: (item: T) => Promise<R>,
): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await work(items[index] as T);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

/** One pass of the poller over every operation that still needs it. */
export async function pollActivities(deps: PollDeps): Promise<PollSummary> {
  const summary: PollSummary = {
    examined: 0,
    describeCalls: 0,
    completed: {},
    republished: 0,
    stillInProgress: 0,
    failedBatches: [],
  };
  const inProgress = new Map<string, OperationRecord[]>();
  for await (const record of deps.ledger.listPending()) {
    summary.examined++;
    const pending = unpublishedEvent(record);
    if (pending) {
      await publishStored(deps, pending);
      summary.republished++;
    } else if (record.status === 'IN_PROGRESS' && record.activityId && record.request) {
      const key = `${record.request.provider}\u0000${record.request.region}`;
      const group = inProgress.get(key) ?? [];
      group.push(record);
      inProgress.set(key, group);
    }
  }

  const batches = [...inProgress.values()].flatMap((records) => {
    const provider = (records[0] as OperationRecord).request?.provider as ProviderName;
    return chunk(records, deps.providers[provider].activityBatchLimit);
  });
  await mapLimit(batches, deps.concurrency, (batch) => pollBatch(deps, batch, summary));
  return summary;
}

async function pollBatch(deps: PollDeps, batch: OperationRecord[], summary: PollSummary): Promise<void> {
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
    const event = decide(deps, record, byId.get(record.activityId as string));
    if (!event) {
      summary.stillInProgress++;
      continue;
    }
    if (await completeOperation(deps, event)) {
      summary.completed[event.status] = (summary.completed[event.status] ?? 0) + 1;
    }
  }
}

function decide(
  deps: PollDeps,
  record: OperationRecord,
  report: ActivityReport | undefined,
): CompletionEvent | undefined {
  const now = deps.clock.now();
  if (report && report.phase !== 'pending') {
    const status = STATUS_OF_PHASE[report.phase];
    return eventFor(record, status, now, {
      cloud: cloudOf(report),
      ...(status === 'Failed' && {
        error: {
          code: report.errorCode || `Activity${report.statusCode}`,
          message:
            report.errorMessage || report.statusMessage || `The scaling activity ended ${report.statusCode}.`,
        },
      }),
    });
  }
  const startedAt = Date.parse(record.submittedAt ?? record.createdAt);
  if (now.getTime() - startedAt < deps.timeoutMs) return undefined;
  return eventFor(record, 'TimedOut', now, {
    ...(report && { cloud: cloudOf(report) }),
    error: {
      code: 'TimedOut',
      message: report
        ? `The activity was still ${report.statusCode} after ${Math.round(deps.timeoutMs / 1000)} s.`
        : `The cloud did not report the activity within ${Math.round(deps.timeoutMs / 1000)} s.`,
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
