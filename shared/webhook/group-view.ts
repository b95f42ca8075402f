import * as z from 'zod';
import { Action, CloudProgress, CompletionError, VisibleRecord } from '../contracts/index.ts';
import type { GroupDescription, StoredRecord } from '../detach/ports.ts';

const iso = (epochMs: number) => new Date(epochMs).toISOString();
const secondsBetween = (from: number, to: number) => Math.round((to - from) / 1000);

const RequestLine = VisibleRecord.pick({
  requestId: true,
  action: true,
  status: true,
  instanceIds: true,
  serverGroupIds: true,
  attempts: true,
  createdAt: true,
  lastError: true,
});

/**
 * 200 from GET /v1/groups/{provider}/{region}/{groupId} (and `npm run group`): why a group is or is not moving.
 * Never a token: an intent's clientToken and the requests' are left out.
 */
export const GroupStatus = z.object({
  provider: z.string(),
  region: z.string(),
  groupId: z.string(),
  readAt: z.string(),
  lease: z
    .object({ owner: z.string(), until: z.string(), expiresInSeconds: z.number(), live: z.boolean() })
    .optional(),
  /** Nothing is sent to the group before this (a backoff after a refusal or an unanswered call). */
  retryAfter: z.string().optional(),
  intent: z
    .object({
      id: z.string(),
      action: Action,
      requestIds: z.array(z.string()),
      instanceIds: z.array(z.string()).optional(),
      createdAt: z.string(),
      calledAt: z.string().optional(),
      calls: z.number().int(),
      /** The cloud's last answer to the call (no answer at all: a transient error). */
      lastAnswer: CompletionError.optional(),
    })
    .optional(),
  activity: z
    .object({
      activityId: z.string(),
      requestIds: z.array(z.string()),
      startedAt: z.string().optional(),
      ageSeconds: z.number().optional(),
      progress: CloudProgress.optional(),
      holdsGroupUntil: z.string().optional(),
    })
    .optional(),
  waiting: z.object({ count: z.number().int(), oldest: z.array(RequestLine) }),
  outcomes: z.array(
    VisibleRecord.pick({ requestId: true, action: true, status: true, completedAt: true }).extend({
      error: CompletionError.pick({ code: true, message: true }).optional(),
    }),
  ),
});
export type GroupStatus = z.infer<typeof GroupStatus>;

const requestLine = (record: StoredRecord): z.infer<typeof RequestLine> => ({
  requestId: record.requestId,
  action: record.action,
  status: record.status,
  ...(record.instanceIds && { instanceIds: record.instanceIds }),
  ...(record.serverGroupIds && { serverGroupIds: record.serverGroupIds }),
  attempts: record.attempts,
  createdAt: record.createdAt,
  ...(record.lastError && { lastError: record.lastError }),
});

/** The latest lastError among the intent's records: what the cloud last said to its call. */
function lastAnswerOf(records: readonly StoredRecord[]) {
  const answered = records.filter((record) => record.lastError);
  answered.sort((a, b) => b.updatedAt.localeCompare(a.updatedAt));
  return answered[0]?.lastError;
}

/**
 * The part of a group a caller scoped to some accounts may see: only its accounts' requests, in the waiting list,
 * the outcomes, the intent and the activity (each kept only while one of its requests is visible, the intent's
 * instances narrowed to theirs). `waitingCount` then counts the visible ones among those listed, the oldest
 * twenty: the group's whole count would tell of other accounts' requests. The lease and backoff are kept: they say
 * why the caller's own requests wait, and name no request. Nothing visible: an empty description (404).
 */
export function scopedTo(
  description: GroupDescription,
  visible: (record: StoredRecord) => boolean,
): GroupDescription {
  const waiting = description.waiting.filter(visible);
  const outcomes = description.outcomes.filter(visible);
  const intentRecords = description.intentRecords.filter(visible);
  const activityRecords = description.activity?.records.filter(visible) ?? [];
  const intent = description.intent && intentRecords.length > 0 ? description.intent : undefined;
  const activity =
    description.activity && activityRecords.length > 0
      ? { ...description.activity, records: activityRecords }
      : undefined;
  if (waiting.length + outcomes.length === 0 && !intent && !activity)
    return { groupKey: description.groupKey, intentRecords: [], waiting: [], waitingCount: 0, outcomes: [] };
  const intentInstances = new Set(intentRecords.flatMap((record) => record.instanceIds ?? []));
  return {
    groupKey: description.groupKey,
    ...(description.lease && { lease: description.lease }),
    ...(description.retryAfter !== undefined && { retryAfter: description.retryAfter }),
    ...(intent && {
      intent: {
        ...intent,
        requestIds: intentRecords.map((record) => record.requestId),
        ...(intent.instanceIds && {
          instanceIds: intent.instanceIds.filter((id) => intentInstances.has(id)),
        }),
      },
    }),
    intentRecords,
    ...(activity && { activity }),
    waiting,
    waitingCount: waiting.length,
    outcomes,
  };
}

/** What the status API shows of a group: the ledger's description, made readable, without any token. */
export function groupStatusOf(
  where: { provider: string; region: string; groupId: string },
  description: GroupDescription,
  now: Date,
): GroupStatus {
  const at = now.getTime();
  const { lease, intent, activity } = description;
  const lastAnswer = lastAnswerOf(description.intentRecords);
  const started = activity?.records
    .map((record) => record.submittedAt)
    .filter((value): value is string => value !== undefined)
    .sort()[0];
  const progress = activity?.records.find((record) => record.cloudProgress)?.cloudProgress;
  return GroupStatus.parse({
    ...where,
    readAt: now.toISOString(),
    ...(lease && {
      lease: {
        owner: lease.owner,
        until: iso(lease.until),
        expiresInSeconds: secondsBetween(at, lease.until),
        live: lease.until > at,
      },
    }),
    ...(description.retryAfter !== undefined &&
      description.retryAfter > at && { retryAfter: iso(description.retryAfter) }),
    ...(intent && {
      intent: {
        id: intent.id,
        action: intent.action,
        requestIds: intent.requestIds,
        ...(intent.instanceIds && { instanceIds: intent.instanceIds }),
        createdAt: intent.createdAt,
        ...(intent.calledAt && { calledAt: intent.calledAt }),
        calls: intent.calls,
        ...(lastAnswer && { lastAnswer }),
      },
    }),
    ...(activity && {
      activity: {
        activityId: activity.activityId,
        requestIds: activity.records.map((record) => record.requestId),
        ...(started && { startedAt: started, ageSeconds: secondsBetween(Date.parse(started), at) }),
        ...(progress && { progress }),
        ...(activity.until !== undefined && { holdsGroupUntil: iso(activity.until) }),
      },
    }),
    waiting: { count: description.waitingCount, oldest: description.waiting.map(requestLine) },
    outcomes: description.outcomes.map((record) => {
      const error = record.event?.error ?? record.lastError;
      return {
        requestId: record.requestId,
        action: record.action,
        status: record.status,
        ...(record.completedAt && { completedAt: record.completedAt }),
        ...(error && { error: { code: error.code, message: error.message } }),
      };
    }),
  });
}
