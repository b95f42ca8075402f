import type {
  Action,
  ActionRequest,
  CallbackState,
  CompletionError,
  CompletionEvent,
  DetachRequest,
  LedgerStatus,
} from '../contracts/index.ts';
import type { DetachError } from '../errors.ts';
import type { GroupSnapshot, Plan } from './preflight.ts';

/** What a cloud reports about one scaling activity, reduced to what the domain decides on. */
export interface ActivityReport {
  activityId: string;
  phase: 'pending' | 'succeeded' | 'partial' | 'failed';
  /** The cloud's own status word (ESS: InProgress, Successful, Warning, Failed, Rejected). */
  statusCode: string;
  statusMessage?: string;
  progress?: number;
  errorCode?: string;
  errorMessage?: string;
}

export interface SubmitResult {
  /** Absent for calls that return no activity (they are confirmed by reconciliation). */
  activityId?: string;
  cloudRequestId?: string;
}

/** Port: one cloud's scaling API. Adapters throw DetachError, already classified. */
export interface ScalingProvider {
  /** How many activity ids one describe call accepts. */
  readonly activityBatchLimit: number;
  submit(operation: ActionRequest, attempt: SubmitAttempt): Promise<SubmitResult>;
  describeActivities(region: string, activityIds: readonly string[]): Promise<ActivityReport[]>;
  /**
   * For calls that return no activity: whether what the request took out is gone from the group. One call
   * answers for many requests of one region.
   */
  reconcile(region: string, operations: readonly ActionRequest[]): Promise<Map<string, boolean>>;
  /** Of these instances, the ones still in the group (to say what a partial activity did not do). */
  instancesStillInGroup(
    region: string,
    scalingGroupId: string,
    instanceIds: readonly string[],
  ): Promise<string[]>;
  /** The group and the named instances as they are now, for the preflight of an instance action; undefined where none applies. */
  inspect(operation: ActionRequest): Promise<GroupSnapshot | undefined>;
}

export interface SubmitAttempt {
  /** The idempotency token of this attempt, for clouds that take one. */
  clientToken: string;
  /**
   * Set when an earlier attempt failed ambiguously (it may have acted): a cloud with no idempotency token must
   * look for what that attempt started, since this time, before acting again.
   */
  ambiguousSince?: Date;
}

export interface CloudProgress {
  statusCode: string;
  progress?: number;
}

export type ProviderName = DetachRequest['provider'];
export type ProviderRegistry = Readonly<Record<ProviderName, ScalingProvider>>;

export type { LedgerStatus };

export interface OperationRecord {
  requestId: string;
  action: Action;
  status: LedgerStatus;
  provider?: string;
  region?: string;
  scalingGroupId?: string;
  instanceIds?: string[];
  serverGroupIds?: string[];
  /** The validated request, kept so the poller and the status API need nothing else. */
  request?: DetachRequest;
  clientToken?: string;
  activityId?: string;
  attempts: number;
  lastError?: CompletionError;
  createdAt: string;
  updatedAt: string;
  submittedAt?: string;
  completedAt?: string;
  event?: CompletionEvent;
  eventPublishedAt?: string;
  cloudRequestId?: string;
  /** How many times the completion event came back from the bus (see functions/record-delivery). */
  deliveredEvents?: number;
  callback?: CallbackState;
  /** The preflight's plan, fixed on the first attempt so that every retry sends the same call. */
  plan?: Plan;
  cloudProgress?: CloudProgress;
  lastDeliveredStatus?: string;
}

export type NewOperation = ActionRequest & {
  requestId: string;
  clientToken: string;
  /** Set for requests that wait for their group's turn (the instance actions): the group they wait in. */
  waitKey?: string;
};

/** One call to the cloud for several requests of one group (coalesced), kept until it got a definitive answer. */
export interface Batch {
  requestIds: string[];
  instanceIds: string[];
  clientToken: string;
}

export interface GroupState {
  groupKey: string;
  /** A batch whose call failed ambiguously: the next call must be exactly this one. */
  batch?: Batch;
}

export interface GroupChange {
  /** An activity of ours now runs on the group: nothing else is sent until the poller sees it end. */
  activityId?: string;
  activityUntil?: number;
  /** Keep (a batch), or forget (null). */
  batch?: Batch | null;
  /** Epoch ms before which nothing is sent to the group (a backoff). */
  retryAfter?: number;
}

/** Port: the operation ledger. Every transition is conditional so that concurrent writers cannot both win. */
export interface Ledger {
  /** Creates the record as QUEUED, or returns the one that exists. */
  begin(operation: NewOperation, now: Date): Promise<OperationRecord>;
  /** Counts a failed attempt; `nextClientToken` is the token the next attempt must use. */
  recordAttemptFailure(
    requestId: string,
    error: DetachError,
    nextClientToken: string,
    now: Date,
  ): Promise<void>;
  /** QUEUED -> IN_PROGRESS (activity to poll) or SUBMITTED (to reconcile). False when already moved on. */
  markSubmitted(requestId: string, result: SubmitResult, now: Date): Promise<boolean>;
  recordPlan(requestId: string, plan: Plan, now: Date): Promise<void>;
  /** QUEUED requests waiting in a group, oldest first. */
  listWaiting(groupKey: string, limit: number): Promise<OperationRecord[]>;
  /** Takes the group's lock for `leaseMs`, unless it is held, an activity of ours runs, or a backoff is on. */
  acquireGroup(groupKey: string, owner: string, now: Date, leaseMs: number): Promise<GroupState | undefined>;
  releaseGroup(groupKey: string, owner: string, change: GroupChange): Promise<void>;
  /** The group's activity ended: the group may be sent the next batch. */
  finishGroupActivity(groupKey: string, activityId: string): Promise<void>;
  /** The cloud's last word on an activity still running (status word and percent), for the status API. */
  recordProgress(requestId: string, progress: CloudProgress): Promise<void>;
  /**
   * Stores the terminal status and its event, unless the record is already terminal. Creates the record if it
   * does not exist (a rejected message). True when this call made the transition.
   */
  complete(event: CompletionEvent): Promise<boolean>;
  /** `keepPending`: a callback is still to be delivered, so the poller must keep visiting the record. */
  markPublished(requestId: string, now: Date, keepPending?: boolean): Promise<void>;
  recordCallback(requestId: string, callback: CallbackState, keepPending: boolean): Promise<void>;
  get(requestId: string): Promise<OperationRecord | undefined>;
  /** Records the poller must look at: in progress, or terminal with an event not yet published. */
  listPending(): AsyncIterable<OperationRecord>;
}

/** Port: where completion events go. */
export interface EventPublisher {
  publish(event: CompletionEvent): Promise<void>;
}

export interface Clock {
  now(): Date;
}
