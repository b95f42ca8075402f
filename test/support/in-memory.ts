import type { ActionRequest, CompletionEvent } from '../../shared/contracts/index.ts';
import type { CallbackState } from '../../shared/detach/callbacks.ts';
import { isTerminal, LEDGER_STATUS_OF } from '../../shared/detach/completion.ts';
import type {
  ActivityReport,
  Batch,
  CloudProgress,
  EventPublisher,
  GroupChange,
  GroupState,
  Ledger,
  NewOperation,
  OperationRecord,
  ScalingProvider,
  SubmitAttempt,
  SubmitResult,
} from '../../shared/detach/ports.ts';
import type { GroupSnapshot, Plan } from '../../shared/detach/preflight.ts';
import type { DetachError } from '../../shared/errors.ts';

/** The Ledger port in memory, with the same conditional transitions as DynamoDbLedger; for unit tests only. */
export class InMemoryLedger implements Ledger {
  readonly records = new Map<string, OperationRecord>();

  async begin(operation: NewOperation, now: Date): Promise<OperationRecord> {
    const existing = this.records.get(operation.requestId);
    if (existing) return structuredClone(existing);
    if (operation.waitKey) this.waitKeys.set(operation.requestId, operation.waitKey);
    const record: OperationRecord = {
      requestId: operation.requestId,
      action: operation.action,
      status: 'QUEUED',
      request: operation.request,
      clientToken: operation.clientToken,
      attempts: 0,
      createdAt: now.toISOString(),
      updatedAt: now.toISOString(),
    };
    this.records.set(record.requestId, record);
    return structuredClone(record);
  }

  async recordAttemptFailure(requestId: string, error: DetachError, nextClientToken: string): Promise<void> {
    const record = this.records.get(requestId);
    if (record?.status !== 'QUEUED') throw new Error('condition failed');
    record.attempts++;
    record.clientToken = nextClientToken;
    record.lastError = { code: error.code, kind: error.kind, message: error.message };
  }

  async markSubmitted(requestId: string, result: SubmitResult, now: Date): Promise<boolean> {
    const record = this.records.get(requestId);
    if (record?.status !== 'QUEUED') return false;
    record.status = result.activityId ? 'IN_PROGRESS' : 'SUBMITTED';
    if (result.activityId) record.activityId = result.activityId;
    record.submittedAt = now.toISOString();
    record.attempts++;
    return true;
  }

  async complete(event: CompletionEvent): Promise<boolean> {
    const record = this.records.get(event.requestId);
    if (record && isTerminal(record.status)) return false;
    this.records.set(event.requestId, {
      ...(record ?? { requestId: event.requestId, action: event.action, createdAt: event.requestedAt }),
      status: LEDGER_STATUS_OF[event.status],
      event,
      attempts: event.attempts,
      completedAt: event.completedAt,
      updatedAt: event.completedAt,
    } as OperationRecord);
    return true;
  }

  async markPublished(requestId: string, now: Date): Promise<void> {
    const record = this.records.get(requestId);
    if (record) record.eventPublishedAt = now.toISOString();
  }

  readonly groups = new Map<
    string,
    { lockedUntil?: number; activityId?: string; activityUntil?: number; batch?: Batch; retryAfter?: number }
  >();
  readonly waitKeys = new Map<string, string>();

  async listWaiting(groupKey: string): Promise<OperationRecord[]> {
    return [...this.records.values()]
      .filter((r) => r.status === 'QUEUED' && this.waitKeys.get(r.requestId) === groupKey)
      .map((r) => structuredClone(r));
  }

  async acquireGroup(
    groupKey: string,
    _owner: string,
    now: Date,
    leaseMs: number,
  ): Promise<GroupState | undefined> {
    const group = this.groups.get(groupKey) ?? {};
    const t = now.getTime();
    if (
      (group.lockedUntil ?? 0) > t ||
      (group.activityId && (group.activityUntil ?? 0) > t) ||
      (group.retryAfter ?? 0) > t
    )
      return undefined;
    group.lockedUntil = t + leaseMs;
    this.groups.set(groupKey, group);
    return { groupKey, ...(group.batch && { batch: structuredClone(group.batch) }) };
  }

  async releaseGroup(groupKey: string, _owner: string, change: GroupChange): Promise<void> {
    const group = this.groups.get(groupKey) ?? {};
    delete group.lockedUntil;
    if (change.activityId) {
      group.activityId = change.activityId;
      group.activityUntil = change.activityUntil as number;
    }
    if (change.batch) group.batch = change.batch;
    else if (change.batch === null) delete group.batch;
    if (change.retryAfter) group.retryAfter = change.retryAfter;
    else delete group.retryAfter;
    this.groups.set(groupKey, group);
  }

  async finishGroupActivity(groupKey: string, activityId: string): Promise<void> {
    const group = this.groups.get(groupKey);
    if (group?.activityId === activityId) {
      delete group.activityId;
      delete group.activityUntil;
    }
  }

  async recordPlan(requestId: string, plan: Plan): Promise<void> {
    const record = this.records.get(requestId);
    if (record?.status !== 'QUEUED') throw new Error('condition failed');
    record.plan = plan;
  }

  async recordProgress(requestId: string, progress: CloudProgress): Promise<void> {
    const record = this.records.get(requestId);
    if (record?.status === 'IN_PROGRESS') record.cloudProgress = progress;
  }

  async recordCallback(requestId: string, callback: CallbackState): Promise<void> {
    const record = this.records.get(requestId);
    if (record) record.callback = callback;
  }

  async get(requestId: string): Promise<OperationRecord | undefined> {
    const record = this.records.get(requestId);
    return record && structuredClone(record);
  }

  async *listPending(): AsyncIterable<OperationRecord> {
    for (const record of this.records.values()) {
      const pending =
        record.status === 'IN_PROGRESS' ||
        record.status === 'SUBMITTED' ||
        (record.status === 'QUEUED' && this.waitKeys.has(record.requestId));
      if (pending || (isTerminal(record.status) && !record.eventPublishedAt)) yield structuredClone(record);
    }
  }
}

export class RecordingPublisher implements EventPublisher {
  readonly events: CompletionEvent[] = [];
  failNext = 0;

  async publish(event: CompletionEvent): Promise<void> {
    if (this.failNext > 0) {
      this.failNext--;
      throw new Error('bus unavailable');
    }
    this.events.push(event);
  }
}

/** A scripted ScalingProvider: each submit takes the next scripted answer. */
export class ScriptedProvider implements ScalingProvider {
  readonly activityBatchLimit = 20;
  readonly submitCalls: { action: string; requestId: string; clientToken: string }[] = [];
  readonly describeCalls: string[][] = [];
  submitAnswers: (SubmitResult | DetachError)[] = [];
  activities = new Map<string, ActivityReport>();
  /** Request ids whose server groups are gone from the group. */
  reconciled = new Set<string>();
  /** Instances still in their group. */
  remainingInstances = new Set<string>();

  async submit(operation: ActionRequest, { clientToken }: SubmitAttempt): Promise<SubmitResult> {
    this.submitCalls.push({ action: operation.action, requestId: operation.request.requestId, clientToken });
    const answer = this.submitAnswers.shift() ?? { activityId: `asa-${this.submitCalls.length}` };
    if (answer instanceof Error) throw answer;
    return answer;
  }

  async describeActivities(_region: string, activityIds: readonly string[]): Promise<ActivityReport[]> {
    this.describeCalls.push([...activityIds]);
    return activityIds.flatMap((id) => {
      const report = this.activities.get(id);
      return report ? [report] : [];
    });
  }

  async reconcile(_region: string, operations: readonly ActionRequest[]): Promise<Map<string, boolean>> {
    return new Map(operations.map((o) => [o.request.requestId, this.reconciled.has(o.request.requestId)]));
  }

  /** What inspect answers; undefined: no preflight applies. */
  snapshot: GroupSnapshot | undefined;
  readonly inspectCalls: string[] = [];

  async inspect(operation: ActionRequest): Promise<GroupSnapshot | undefined> {
    this.inspectCalls.push(operation.request.requestId);
    return this.snapshot;
  }

  async instancesStillInGroup(
    _region: string,
    _group: string,
    instanceIds: readonly string[],
  ): Promise<string[]> {
    return instanceIds.filter((id) => this.remainingInstances.has(id));
  }
}

export const fixedClock = (iso = '2026-01-01T00:00:00.000Z') => {
  let now = new Date(iso);
  return {
    now: () => now,
    advance: (ms: number) => {
      now = new Date(now.getTime() + ms);
    },
  };
};

/** The domain's dependencies on the in-memory ports, for its unit tests: one scripted provider for both clouds. */
export function inMemoryDeps() {
  const provider = new ScriptedProvider();
  const clock = fixedClock();
  const deps = {
    ledger: new InMemoryLedger(),
    publisher: new RecordingPublisher(),
    providers: { aliyun: provider, tencent: provider },
    clock,
    maxAttempts: 3,
    retry: { baseSeconds: 2, maxSeconds: 60 },
    activityHoldMs: 600_000,
    timeoutMs: 60_000,
    concurrency: 4,
  };
  return { deps, provider, clock };
}
