import type { ActionRequest, CompletionEvent } from '../../shared/contracts/index.ts';
import type { CallbackState } from '../../shared/detach/callbacks.ts';
import { isTerminal, LEDGER_STATUS_OF } from '../../shared/detach/completion.ts';
import type {
  ActivityReport,
  CloudProgress,
  EventPublisher,
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
      const pending = record.status === 'IN_PROGRESS' || record.status === 'SUBMITTED';
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
