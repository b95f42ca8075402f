import { type CompletionEvent, type TerminalStatus, targetsOf } from '../contracts/index.ts';
import { eventFor } from './completion.ts';
import type { ActivityReport, Clock, OperationRecord } from './ports.ts';
import { partialByPlan } from './preflight.ts';

/** A report of an activity that ended. */
export type EndedReport = ActivityReport & { phase: Exclude<ActivityReport['phase'], 'pending'> };

export const hasEnded = (report: ActivityReport): report is EndedReport => report.phase !== 'pending';

const STATUS_OF_PHASE: Record<EndedReport['phase'], TerminalStatus> = {
  succeeded: 'Succeeded',
  partial: 'Partial',
  failed: 'Failed',
};

/** What the group showed after an activity that did not succeed. */
export type Gone = { remaining: ReadonlySet<string> } | { reconciled: ReadonlyMap<string, boolean> };

/**
 * A request's outcome when its activity ended: from its own targets, not from the activity alone (a merged
 * call's Partial may have done all of one request and none of another). Succeeded when all its instances (or
 * its server groups) left, Failed when none did, Partial otherwise; a success with instances the preflight found
 * not in the group is Partial.
 */
export function judgeEnded(
  deps: { clock: Clock },
  record: OperationRecord,
  report: EndedReport,
  gone: Gone | undefined,
): CompletionEvent {
  const { instanceIds } = targetsOf(record.request);
  const notInGroup = record.plan?.notInGroup ?? [];
  const named = (instanceIds ?? []).filter((id) => !notInGroup.includes(id));
  const remaining = gone && 'remaining' in gone ? gone.remaining : undefined;
  const detached = named.filter((id) => !remaining?.has(id));
  let status: TerminalStatus;
  if (!gone) status = STATUS_OF_PHASE[report.phase];
  else if ('reconciled' in gone) status = gone.reconciled.get(record.requestId) ? 'Succeeded' : 'Failed';
  else status = detached.length === named.length ? 'Succeeded' : detached.length === 0 ? 'Failed' : 'Partial';
  if (status === 'Succeeded' && partialByPlan(record.plan, record.request)) status = 'Partial';
  const instances =
    instanceIds && (status !== 'Succeeded' || notInGroup.length > 0)
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

/**
 * The TimedOut outcome of a request still open `timeoutMs` after it was accepted (or, waiting, created);
 * undefined before that.
 */
export function timedOut(
  deps: { clock: Clock; timeoutMs: number },
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

/** The smallest move of the cloud's progress (percentage points) worth a write: each costs write units. */
const PROGRESS_STEP = 10;

/**
 * Worth writing for the status API: the cloud's status word changed, or its progress first appeared or moved
 * by PROGRESS_STEP points or more since the one written. A 60 s activity passed every 5 s writes about 6
 * times instead of 12; the end itself is written by the completion, whatever the last progress.
 */
export const progressMoved = (record: OperationRecord, report: ActivityReport): boolean => {
  const written = record.cloudProgress;
  if (report.statusCode !== written?.statusCode) return true;
  if (report.progress === undefined) return false;
  if (written?.progress === undefined) return true;
  return Math.abs(report.progress - written.progress) >= PROGRESS_STEP;
};
