import type {
  Action,
  ActionRequest,
  ActionRequestOf,
  CallbackState,
  CloudProgress,
  CompletionError,
  CompletionEvent,
  DetachRequest,
  LedgerStatus,
  OperationRecord,
  RejectedRecord,
  StoredRecord,
} from '../contracts/index.ts';
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
  /**
   * Whether repeating this action's call with the same token is safe at any time (the cloud answers a repeated
   * token with the first result). Where it is not, an ambiguous call is resolved only once it can no longer act.
   */
  idempotentByToken(action: ActionRequest['action']): boolean;
  submit(operation: ActionRequest, attempt: SubmitAttempt): Promise<SubmitResult>;
  describeActivities(region: string, activityIds: readonly string[]): Promise<ActivityReport[]>;
  /**
   * Whether what each request takes out (its instances, or its server groups) is gone from its group, read
   * through the API the request itself uses: for calls that return no activity, and to tell whether an
   * unanswered call acted. A group the cloud does not list confirms nothing (false).
   */
  reconcile(region: string, operations: readonly ActionRequest[]): Promise<Map<string, boolean>>;
  /**
   * Of these instances, the ones still in the operation's group (to say what an activity did not do), read
   * through the API the operation uses (Tencent v2 or API 3.0).
   */
  remainingInstances(operation: ActionRequest, instanceIds: readonly string[]): Promise<string[]>;
  /**
   * Clouds without a token: the activity an unanswered call of this operation started after `since`, if one can
   * be found (and no other request of ours owns it). A call confirmed by a read of the group is then followed,
   * and its activity claimed, so that no later recovery adopts it for another request.
   */
  findStartedActivity?(
    operation: ActionRequest,
    since: Date,
    claimedElsewhere: (activityId: string) => Promise<boolean>,
  ): Promise<string | undefined>;
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
  /**
   * Whether another request of ours already owns this activity: a cloud without a token must not adopt, as the
   * one an unanswered call started, an activity this service already follows for someone else.
   */
  claimedElsewhere?: (activityId: string) => Promise<boolean>;
}

export interface ProgressUpdate {
  requestId: string;
  progress: CloudProgress;
}

export type ProviderName = DetachRequest['provider'];
export type ProviderRegistry = Readonly<Record<ProviderName, ScalingProvider>>;

export { hasRequest } from '../contracts/index.ts';
export type { CloudProgress, LedgerStatus, OperationRecord, RejectedRecord, StoredRecord };

export type NewOperationOf<A extends Action> = ActionRequestOf<A> & {
  requestId: string;
  clientToken: string;
};
export type NewOperation = NewOperationOf<Action>;

/**
 * A cloud call written down before it is made (write-ahead): which requests it serves, the instances it sends,
 * and its token. Whoever finds an intent resolves it before anything new is sent to the group.
 */
export interface Intent {
  id: string;
  action: Action;
  requestIds: string[];
  /** The call's instances (instance actions): the union of its requests' plans. */
  instanceIds?: string[];
  clientToken: string;
  /** When the intent was written (ISO). */
  createdAt: string;
  /** When the call was last started (ISO): calls without a token are resolved only once it can no longer act. */
  calledAt?: string;
  /** How many times the call was started. More than zero means the cloud may have acted. */
  calls: number;
}

/**
 * A scaling group's one identity, `provider#region#scalingGroupId` (a member account's: `...#account`), built only
 * by groupKeyOf: the ledger's group items and waiting index, the FIFO MessageGroupId, the poller's and the status
 * API's groups.
 */
export type GroupKey = `${string}#${string}#${string}`;

/** Proof of holding a group's lease: every write a dispatcher makes for the group is conditioned on it. */
export interface Fence {
  groupKey: GroupKey;
  owner: string;
  /** Epoch ms the lease runs to. */
  until: number;
}

export interface GroupState {
  groupKey: GroupKey;
  intent?: Intent;
  activityId?: string;
}

/** How an intent's call ended, written in one transaction with the group (all or nothing). */
export type IntentOutcome =
  /** The cloud took the call: records move on (IN_PROGRESS with the activity, or SUBMITTED to reconcile). */
  | {
      kind: 'accepted';
      requestIds: string[];
      activityId?: string;
      cloudRequestId?: string;
      holdUntil?: number;
      /** The activity is remembered as this intent's, so that no later recovery adopts it for another. */
      claimActivity?: boolean;
    }
  /** The cloud refused it without acting: records go back to waiting (or end, see `ended`). */
  | {
      kind: 'refused';
      requeue: Requeue[];
      retryAfter?: number;
      /** The intent's one call was refused outright: the instances it named were not taken out by it. */
      cloudDidNotAct?: boolean;
    }
  /** No answer (the cloud may have acted): the intent stays, to be repeated exactly. */
  | {
      kind: 'ambiguous';
      requestIds: string[];
      error: CompletionError;
      retryAfter: number;
      /** A busy answer to a repeated call (the cloud may be running the first one) waits without counting. */
      countsAsAttempt: boolean;
    };

export interface Requeue {
  requestId: string;
  lastError?: CompletionError;
  /** Whether this refusal counts as an attempt (busy waits never do). */
  countsAsAttempt: boolean;
}

/** Port: the operation ledger. Every transition is conditional so that concurrent writers cannot both win. */
export interface Ledger {
  /** Creates the record as QUEUED in its group, or returns the one that exists (`created` false). */
  begin(operation: NewOperation, now: Date): Promise<{ record: StoredRecord; created: boolean }>;
  get(requestId: string): Promise<StoredRecord | undefined>;
  /** Strongly consistent reads of several records (the requests of an intent), in the order asked. */
  getMany(requestIds: readonly string[]): Promise<StoredRecord[]>;
  /** QUEUED requests waiting in a group, oldest first. An index: it may lag behind the records. */
  listWaiting(groupKey: GroupKey, limit: number): Promise<StoredRecord[]>;
  /** Takes the group's lease, unless another holds it, an activity of ours runs, or a backoff is on. */
  acquireGroup(
    groupKey: GroupKey,
    owner: string,
    now: Date,
    leaseMs: number,
  ): Promise<{ fence: Fence; group: GroupState } | undefined>;
  /**
   * Writes the intent and moves its records QUEUED -> SUBMITTING, in one transaction under the fence. The
   * instances it sends are remembered for the group first (see `takenOut`).
   */
  writeIntent(
    fence: Fence,
    intent: Intent,
    plans: ReadonlyMap<string, Plan>,
    now: Date,
  ): Promise<'written' | 'lost-lease' | 'stale-records'>;
  /** Right before the call: the lease is still ours (renewed for `leaseMs`) and the intent records the call. */
  beginCall(fence: Fence, intentId: string, now: Date, leaseMs: number): Promise<Fence | undefined>;
  /** Records the call's outcome and ends `ended` records, in one transaction under the fence. */
  resolveIntent(
    fence: Fence,
    intent: Intent,
    outcome: IntentOutcome,
    ended: readonly CompletionEvent[],
    now: Date,
  ): Promise<boolean>;
  /** Ends QUEUED records of the group (preflight refusals, dry runs) in one transaction under the fence. */
  endWaiting(
    fence: Fence,
    events: readonly CompletionEvent[],
    now: Date,
  ): Promise<'ended' | 'lost-lease' | 'stale-records'>;
  /** Nothing is sent to the group before `retryAfter` (epoch ms). */
  backOff(fence: Fence, retryAfter: number, now: Date): Promise<boolean>;
  /** Gives the lease up; a lease already lost is not an error. */
  releaseGroup(fence: Fence): Promise<void>;
  /** The group's activity ended: the group may be sent the next batch. */
  finishGroupActivity(groupKey: GroupKey, activityId: string): Promise<void>;
  /** Whether an intent other than `intentId` owns this activity of the group (see `claimActivity`). */
  activityClaimedElsewhere(groupKey: GroupKey, activityId: string, intentId: string): Promise<boolean>;
  /** Instances this service took out of the group (so that one missing from the group is done, not a typo). */
  takenOut(groupKey: GroupKey, instanceIds: readonly string[]): Promise<Set<string>>;
  /**
   * The cloud's last word on activities still running (status word and percent), for the status API. A record
   * that ended meanwhile is left as it is. Returns the request ids whose progress could not be written.
   */
  recordProgress(updates: readonly ProgressUpdate[]): Promise<string[]>;
  /**
   * Stores the terminal status and its event if the record is in one of `from` (default: any open status but
   * SUBMITTING, which belongs to its intent), or does not exist (a rejected message); or, given the state the
   * outcome was decided from, only if the record is still in it (same status and intent, no event). True when
   * this call made the transition (also when an earlier try of it did, and its answer was lost).
   */
  complete(event: CompletionEvent, from?: readonly LedgerStatus[] | DecidedFrom): Promise<boolean>;
  /**
   * Stores a terminal record and its event only where no record of that id exists (a rejected or dead-lettered
   * message): it never overwrites a request, whatever was written since anyone read the id. True when written.
   */
  completeNew(event: CompletionEvent): Promise<boolean>;
  /** `keepPending`: a callback is still to be delivered, so the poller must keep visiting the record. */
  markPublished(requestId: string, now: Date, keepPending?: boolean): Promise<void>;
  recordCallback(requestId: string, callback: CallbackState, keepPending: boolean): Promise<void>;
  /** The poller failed on this item: it leaves it alone until `retryAt` (epoch ms). */
  deferPoll(requestId: string, retryAt: number): Promise<void>;
  /**
   * Items the poller must visit: open, or terminal with an event or callback still to deliver. `from`: only what
   * the listing that gave that cursor had not handed out yet.
   */
  listPending(from?: PendingCursor): PendingListing;
  /** Where the last poller that ran out of time stopped reading (one poller runs at a time). */
  loadPollCursor(): Promise<PendingCursor | undefined>;
  savePollCursor(cursor: PendingCursor | undefined): Promise<void>;
  /** What an operator sees of a group (status API `GET /v1/groups/...`, `npm run group`); reads only. */
  describeGroup(groupKey: GroupKey): Promise<GroupDescription>;
}

/** A group as the ledger holds it: lease, open intent, running activity, waiting requests, recent outcomes. */
export interface GroupDescription {
  groupKey: GroupKey;
  lease?: { owner: string; until: number };
  /** Epoch ms before which nothing is sent to the group (a backoff). */
  retryAfter?: number;
  intent?: Intent;
  /** The intent's requests (their lastError is the cloud's last answer to its call). */
  intentRecords: StoredRecord[];
  /** The activity of ours that runs on the group: its requests, and the epoch ms it holds the group to. */
  activity?: { activityId: string; until?: number; records: StoredRecord[] };
  /** QUEUED requests, oldest first (the first twenty), and how many the index holds. */
  waiting: StoredRecord[];
  waitingCount: number;
  /** The latest requests of the group that ended, newest first (at most ten). */
  outcomes: StoredRecord[];
}

/** The state of a record an outcome was decided from: a terminal write happens only while it holds. */
export interface DecidedFrom {
  status: string | undefined;
  intentId: string | undefined;
}

export const decidedFrom = (record: Pick<StoredRecord, 'status' | 'intentId'>): DecidedFrom => ({
  status: record.status,
  intentId: record.intentId,
});

/** Where a listing of the pending index stopped, shard by shard (null: from the shard's beginning). */
export type PendingCursor = Readonly<Record<string, Readonly<Record<string, unknown>> | null>>;

export interface PendingListing extends AsyncIterable<PendingItem> {
  /** Where a listing goes on from without missing an item not handed out yet; undefined once all was read. */
  resumeFrom(): PendingCursor | undefined;
}

/** An item of the pending index, or one that the current contract cannot read (ended by the poller). */
export type PendingItem =
  | { kind: 'record'; record: StoredRecord }
  | {
      kind: 'unreadable';
      requestId: string;
      action?: Action;
      createdAt?: string;
      updatedAt?: string;
      /** The stored status and intent, as found: the poller ends the item only from that state. */
      status?: string;
      intentId?: string;
      /** An event an earlier release stored (published or not): it is the request's outcome, not a new one. */
      storedEvent?: CompletionEvent;
      eventPublishedAt?: string;
      reason: string;
    };

/** Port: where completion events go. */
export interface EventPublisher {
  publish(event: CompletionEvent): Promise<void>;
}

export interface Clock {
  now(): Date;
}

/**
 * Port: the provider that acts in a member account (issue #21), with that account's assumed credentials. Requests
 * that name no account use the deployment's own (`ProviderRegistry`).
 */
export type AccountProviders = (provider: ProviderName, account: string) => ScalingProvider;

/** Why a request may not name its account (unknown, another cloud's, a region it may not use), or undefined. */
export interface AccountRefusal {
  code: string;
  message: string;
}

/** Port: the account registry, as intake checks a request against it before anything is recorded. */
export interface AccountCheck {
  refusal(request: {
    provider: ProviderName;
    region: string;
    account: string;
  }): Promise<AccountRefusal | undefined>;
}
