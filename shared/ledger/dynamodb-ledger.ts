import { createHash } from 'node:crypto';
import {
  ConditionalCheckFailedException,
  type DynamoDBClient,
  TransactionCanceledException,
} from '@aws-sdk/client-dynamodb';
import {
  BatchGetCommand,
  BatchWriteCommand,
  DeleteCommand,
  DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  TransactWriteCommand,
  type TransactWriteCommandInput,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import * as z from 'zod';
import { Action, type CompletionEvent, type LedgerStatus } from '../contracts/index.ts';
import type { CallbackState } from '../detach/callbacks.ts';
import { chunk, mapLimit } from '../detach/collections.ts';
import { ENDABLE_STATUSES, isTerminal, LEDGER_STATUS_OF } from '../detach/completion.ts';
import type {
  DecidedFrom,
  Fence,
  GroupDescription,
  GroupKey,
  GroupState,
  Intent,
  IntentOutcome,
  Ledger,
  NewOperation,
  StoredRecord as Operation,
  PendingCursor,
  PendingItem,
  PendingListing,
  ProgressUpdate,
} from '../detach/ports.ts';
import type { Plan } from '../detach/preflight.ts';
import { newRecord, OperationRecord } from './operation-record.ts';

/** Items the poller must visit carry `pendingShard`; the sparse index `pending` holds only them. */
export const PENDING_INDEX = 'pending';
/** Requests waiting for their group's turn, by group (`waitKey`), oldest first. */
export const WAITING_INDEX = 'waiting';
/**
 * The pending index is spread over this many partitions (`P#0`..`P#15`, by a hash of the request id), so that
 * no one partition is hot on a real table, and the poller reads them in parallel.
 */
export const PENDING_SHARDS = 16;
/** The one partition of the first release: read until it is empty, so that records written then are not lost. */
const LEGACY_PENDING_SHARD = 'P';
const PENDING_SHARD_KEYS = [
  ...Array.from({ length: PENDING_SHARDS }, (_, i) => `P#${i}`),
  LEGACY_PENDING_SHARD,
];
/** Where the poller's last pass stopped reading, when it ran out of time (see `savePollCursor`). */
const POLL_CURSOR_KEY = 'poller|cursor';
const StoredPollCursor = z
  .record(z.string(), z.strictObject({ pendingShard: z.string(), requestId: z.string() }).nullable())
  .refine((cursor) => {
    const shards = Object.entries(cursor);
    // Each start key is a key of the pending index, in its own shard (what Query gives as LastEvaluatedKey).
    return (
      shards.length > 0 &&
      shards.every(
        ([shard, key]) => PENDING_SHARD_KEYS.includes(shard) && (key === null || key.pendingShard === shard),
      )
    );
  });
export const pendingShardOf = (requestId: string): string =>
  `P#${(createHash('sha1').update(requestId).digest()[0] as number) % PENDING_SHARDS}`;

/**
 * Requests by group, newest first (`scalingGroupId`, `createdAt`; keys only, so written once per request): where
 * an operator's view of a group finds its running activity's requests and its latest outcomes.
 */
export const HISTORY_INDEX = 'history';

/** A group's lease, intent and running activity live in the same table, under a key no request id can take. */
const groupItemKey = (groupKey: GroupKey) => `group|${groupKey}`;
/** What this service took out of a group: one marker per instance (see `takenOut`). */
const takenItemKey = (groupKey: GroupKey, instanceId: string) => `taken|${groupKey}|${instanceId}`;
/** Which intent an activity of a cloud without tokens belongs to (see `activityClaimedElsewhere`). */
const claimItemKey = (groupKey: GroupKey, activityId: string) => `activity|${groupKey}|${activityId}`;

const IntentItem = z.object({
  id: z.string(),
  action: Action,
  requestIds: z.array(z.string()),
  instanceIds: z.array(z.string()).optional(),
  clientToken: z.string(),
  createdAt: z.string(),
  calledAt: z.string().optional(),
  calls: z.number().int().nonnegative(),
});
const GroupItem = z.object({ intent: IntentItem.optional(), activityId: z.string().optional() });

const isConditionFailure = (error: unknown) => error instanceof ConditionalCheckFailedException;

type TransactItem = NonNullable<TransactWriteCommandInput['TransactItems']>[number];

export interface DynamoDbLedgerOptions {
  /** Terminal records expire (DynamoDB TTL on `expiresAt`) this many days after they ended. */
  retentionDays?: number;
  /** Items per query of the pending index (small pages keep a streaming pass's memory small). */
  pendingPageSize?: number;
}

/** The Ledger port on one DynamoDB table keyed by requestId. */
export class DynamoDbLedger implements Ledger {
  readonly #documents: DynamoDBDocumentClient;
  readonly #retentionSeconds: number;
  readonly #pendingPageSize: number;

  constructor(
    client: DynamoDBClient,
    private readonly tableName: string,
    options: DynamoDbLedgerOptions = {},
  ) {
    this.#documents = DynamoDBDocumentClient.from(client, {
      marshallOptions: { removeUndefinedValues: true },
    });
    this.#retentionSeconds = (options.retentionDays ?? 90) * 86_400;
    this.#pendingPageSize = options.pendingPageSize ?? 200;
  }

  async begin(operation: NewOperation, now: Date): Promise<{ record: Operation; created: boolean }> {
    const record = newRecord(operation, now);
    try {
      await this.#documents.send(
        new PutCommand({
          TableName: this.tableName,
          Item: { ...record, pendingShard: pendingShardOf(record.requestId) },
          ConditionExpression: 'attribute_not_exists(requestId)',
        }),
      );
      return { record, created: true };
    } catch (error) {
      if (!isConditionFailure(error)) throw error;
      return { record: (await this.get(operation.requestId)) as Operation, created: false };
    }
  }

  async get(requestId: string): Promise<Operation | undefined> {
    const { Item } = await this.#documents.send(
      new GetCommand({ TableName: this.tableName, Key: { requestId }, ConsistentRead: true }),
    );
    return Item ? OperationRecord.parse(Item) : undefined;
  }

  /**
   * In the order asked (BatchGetItem answers in any order). Records the contract cannot read are left out: the
   * poller ends them (LedgerRecordUnreadable).
   */
  async getMany(requestIds: readonly string[]): Promise<Operation[]> {
    const byId = new Map<string, Operation>();
    for (const item of await this.#batchGet(requestIds)) {
      const parsed = OperationRecord.safeParse(item);
      if (parsed.success) byId.set(parsed.data.requestId, parsed.data);
    }
    return requestIds.flatMap((id) => {
      const record = byId.get(id);
      return record ? [record] : [];
    });
  }

  async listWaiting(groupKey: GroupKey, limit: number): Promise<Operation[]> {
    const { Items } = await this.#documents.send(
      new QueryCommand({
        TableName: this.tableName,
        IndexName: WAITING_INDEX,
        KeyConditionExpression: 'waitKey = :key',
        FilterExpression: '#status = :queued',
        ExpressionAttributeNames: { '#status': 'status' },
        ExpressionAttributeValues: { ':key': groupKey, ':queued': 'QUEUED' },
        Limit: limit,
      }),
    );
    // An item the contract cannot read is not sent; the poller ends it (LedgerRecordUnreadable).
    return (Items ?? []).flatMap((item) => {
      const parsed = OperationRecord.safeParse(item);
      return parsed.success ? [parsed.data] : [];
    });
  }

  async acquireGroup(
    groupKey: GroupKey,
    owner: string,
    now: Date,
    leaseMs: number,
  ): Promise<{ fence: Fence; group: GroupState } | undefined> {
    const until = now.getTime() + leaseMs;
    try {
      const { Attributes } = await this.#documents.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { requestId: groupItemKey(groupKey) },
          UpdateExpression: 'SET leaseOwner = :owner, leaseUntil = :until',
          ConditionExpression:
            '(attribute_not_exists(leaseUntil) OR leaseUntil < :now) AND (attribute_not_exists(activityId) OR activityUntil < :now) AND (attribute_not_exists(retryAfter) OR retryAfter <= :now)',
          ExpressionAttributeValues: { ':owner': owner, ':until': until, ':now': now.getTime() },
          ReturnValues: 'ALL_NEW',
        }),
      );
      const group = GroupItem.parse(Attributes ?? {});
      return {
        fence: { groupKey, owner, until },
        group: { groupKey, ...(group.intent && { intent: group.intent as Intent }) },
      };
    } catch (error) {
      if (isConditionFailure(error)) return undefined;
      throw error;
    }
  }

  async writeIntent(
    fence: Fence,
    intent: Intent,
    plans: ReadonlyMap<string, Plan>,
    now: Date,
  ): Promise<'written' | 'lost-lease' | 'stale-records'> {
    await this.#rememberTakenOut(fence.groupKey, intent, now);
    return this.#transact([
      {
        Update: {
          TableName: this.tableName,
          Key: { requestId: groupItemKey(fence.groupKey) },
          UpdateExpression: 'SET #intent = :intent',
          ConditionExpression: `${HOLDS_LEASE} AND attribute_not_exists(#intent)`,
          ExpressionAttributeNames: { '#intent': 'intent' },
          ExpressionAttributeValues: { ...leaseValues(fence, now), ':intent': intent },
        },
      },
      ...intent.requestIds.map((requestId): TransactItem => {
        const plan = plans.get(requestId);
        return {
          Update: {
            TableName: this.tableName,
            Key: { requestId },
            UpdateExpression: `SET #status = :submitting, intentId = :intentId, updatedAt = :now${plan ? ', #plan = :plan' : ''}`,
            ConditionExpression: '#status = :queued',
            ExpressionAttributeNames: { '#status': 'status', ...(plan && { '#plan': 'plan' }) },
            ExpressionAttributeValues: {
              ':submitting': 'SUBMITTING',
              ':queued': 'QUEUED',
              ':intentId': intent.id,
              ':now': now.toISOString(),
              ...(plan && { ':plan': plan }),
            },
          },
        };
      }),
    ]);
  }

  async beginCall(fence: Fence, intentId: string, now: Date, leaseMs: number): Promise<Fence | undefined> {
    const until = now.getTime() + leaseMs;
    try {
      await this.#documents.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { requestId: groupItemKey(fence.groupKey) },
          UpdateExpression:
            'SET leaseUntil = :until, #intent.calledAt = :at, #intent.calls = #intent.calls + :one',
          ConditionExpression: `${HOLDS_LEASE} AND #intent.id = :intentId`,
          ExpressionAttributeNames: { '#intent': 'intent' },
          ExpressionAttributeValues: {
            ...leaseValues(fence, now),
            ':until': until,
            ':at': now.toISOString(),
            ':one': 1,
            ':intentId': intentId,
          },
        }),
      );
      return { ...fence, until };
    } catch (error) {
      if (isConditionFailure(error)) return undefined;
      throw error;
    }
  }

  async resolveIntent(
    fence: Fence,
    intent: Intent,
    outcome: IntentOutcome,
    ended: readonly CompletionEvent[],
    now: Date,
  ): Promise<boolean> {
    const at = now.toISOString();
    const group = groupChange(outcome);
    const inIntent = {
      ConditionExpression: '#status = :submitting AND intentId = :intentId',
      values: { ':submitting': 'SUBMITTING', ':intentId': intent.id },
    };
    const recordUpdates: TransactItem[] = [];
    if (outcome.kind === 'accepted') {
      for (const requestId of outcome.requestIds) {
        const optional = definedEntries({
          activityId: outcome.activityId,
          cloudRequestId: outcome.cloudRequestId,
        });
        recordUpdates.push(
          this.#recordUpdate(requestId, inIntent, {
            update: `SET #status = :next, submittedAt = :now, updatedAt = :now${optional.map(([name]) => `, ${name} = :${name}`).join('')} REMOVE waitKey ADD attempts :one`,
            values: {
              ':next': outcome.activityId ? 'IN_PROGRESS' : 'SUBMITTED',
              ':now': at,
              ':one': 1,
              ...Object.fromEntries(optional.map(([name, value]) => [`:${name}`, value])),
            },
          }),
        );
      }
    } else if (outcome.kind === 'ambiguous') {
      for (const requestId of outcome.requestIds) {
        recordUpdates.push(
          this.#recordUpdate(requestId, inIntent, {
            update: 'SET lastError = :error, updatedAt = :now ADD attempts :count',
            values: { ':error': outcome.error, ':now': at, ':count': outcome.countsAsAttempt ? 1 : 0 },
          }),
        );
      }
    } else {
      for (const requeue of outcome.requeue) {
        recordUpdates.push(
          this.#recordUpdate(requeue.requestId, inIntent, {
            update: `SET #status = :queued, updatedAt = :now${requeue.lastError ? ', lastError = :error' : ''}${requeue.lastError?.kind === 'fatal' ? ', alone = :alone' : ''} ADD attempts :count`,
            values: {
              ':queued': 'QUEUED',
              ':now': at,
              ':count': requeue.countsAsAttempt ? 1 : 0,
              ...(requeue.lastError && { ':error': requeue.lastError }),
              ...(requeue.lastError?.kind === 'fatal' && { ':alone': true }),
            },
          }),
        );
      }
    }
    for (const event of ended) {
      recordUpdates.push(this.#terminalUpdate(event, inIntent));
    }
    if (outcome.kind === 'accepted' && outcome.activityId && outcome.claimActivity)
      recordUpdates.push(this.#claimPut(fence.groupKey, outcome.activityId, intent, now));
    const result = await this.#transact([
      {
        Update: {
          TableName: this.tableName,
          Key: { requestId: groupItemKey(fence.groupKey) },
          UpdateExpression: group.update,
          ConditionExpression: `${HOLDS_LEASE} AND #intent.id = :intentId`,
          ExpressionAttributeNames: { '#intent': 'intent' },
          ExpressionAttributeValues: { ...leaseValues(fence, now), ':intentId': intent.id, ...group.values },
        },
      },
      ...recordUpdates,
    ]);
    // A record that moved on without its intent would be a bug of ours; the group condition is the fence.
    if (result === 'stale-records') throw new Error(`Intent ${intent.id} found a record outside it`);
    if (result === 'written' && outcome.kind === 'refused' && outcome.cloudDidNotAct)
      await this.#forgetTakenOut(fence.groupKey, intent);
    return result === 'written';
  }

  async endWaiting(
    fence: Fence,
    events: readonly CompletionEvent[],
    now: Date,
  ): Promise<'ended' | 'lost-lease' | 'stale-records'> {
    const result = await this.#transact([
      {
        ConditionCheck: {
          TableName: this.tableName,
          Key: { requestId: groupItemKey(fence.groupKey) },
          ConditionExpression: HOLDS_LEASE,
          ExpressionAttributeValues: leaseValues(fence, now),
        },
      },
      ...events.map((event) =>
        this.#terminalUpdate(event, {
          ConditionExpression: '#status = :queued',
          values: { ':queued': 'QUEUED' },
        }),
      ),
    ]);
    return result === 'written' ? 'ended' : result;
  }

  async backOff(fence: Fence, retryAfter: number, now: Date): Promise<boolean> {
    return this.#fencedGroupUpdate(fence, now, 'SET retryAfter = :retryAfter', { ':retryAfter': retryAfter });
  }

  async releaseGroup(fence: Fence): Promise<void> {
    await this.#documents
      .send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { requestId: groupItemKey(fence.groupKey) },
          UpdateExpression: 'REMOVE leaseOwner, leaseUntil',
          ConditionExpression: 'leaseOwner = :owner',
          ExpressionAttributeValues: { ':owner': fence.owner },
        }),
      )
      .catch((error: unknown) => {
        // Lost already: whoever holds the lease now owns the group.
        if (!isConditionFailure(error)) throw error;
      });
  }

  async finishGroupActivity(groupKey: GroupKey, activityId: string): Promise<void> {
    await this.#documents
      .send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { requestId: groupItemKey(groupKey) },
          UpdateExpression: 'REMOVE activityId, activityUntil',
          ConditionExpression: 'activityId = :activityId',
          ExpressionAttributeValues: { ':activityId': activityId },
        }),
      )
      .catch((error: unknown) => {
        // Already finished by another pass, or a newer activity holds the group.
        if (!isConditionFailure(error)) throw error;
      });
  }

  async activityClaimedElsewhere(groupKey: GroupKey, activityId: string, intentId: string): Promise<boolean> {
    const { Item } = await this.#documents.send(
      new GetCommand({
        TableName: this.tableName,
        Key: { requestId: claimItemKey(groupKey, activityId) },
        ConsistentRead: true,
      }),
    );
    return Item !== undefined && Item.intentId !== intentId;
  }

  #claimPut(groupKey: GroupKey, activityId: string, intent: Intent, now: Date): TransactItem {
    return {
      Put: {
        TableName: this.tableName,
        Item: {
          requestId: claimItemKey(groupKey, activityId),
          activityId,
          intentId: intent.id,
          requestIds: intent.requestIds,
          at: now.toISOString(),
          expiresAt: Math.floor(now.getTime() / 1000) + this.#retentionSeconds,
        },
      },
    };
  }

  async takenOut(groupKey: GroupKey, instanceIds: readonly string[]): Promise<Set<string>> {
    const items = await this.#batchGet(instanceIds.map((id) => takenItemKey(groupKey, id)));
    return new Set(items.map((item) => item.instanceId as string));
  }

  async recordProgress(updates: readonly ProgressUpdate[]): Promise<string[]> {
    const PROGRESS_TRANSACTION_FROM = 10;
    // One transaction per 100 (the API's limit), each write conditioned on the record still running: a pass
    // over 10,000 new progresses spent 6 s of its own CPU on 10,000 UpdateItem requests, 0.3 s on 100 of these.
    const failed: string[] = [];
    const single = (update: ProgressUpdate) =>
      this.#documents.send(new UpdateCommand(this.#progressUpdate(update))).then(
        () => undefined,
        (error: unknown) => {
          // A record whose activity ended meanwhile: its progress no longer matters.
          if (!isConditionFailure(error)) failed.push(update.requestId);
        },
      );
    for (const part of chunk([...new Map(updates.map((u) => [u.requestId, u])).values()], 100)) {
      // A few writes go as plain conditional updates: a transaction bills each of its writes twice, and its
      // CPU saving counts only by the hundred.
      if (part.length < PROGRESS_TRANSACTION_FROM) {
        await mapLimit(part, 8, single);
        continue;
      }
      try {
        await this.#documents.send(
          new TransactWriteCommand({
            TransactItems: part.map((update) => ({ Update: this.#progressUpdate(update) })),
          }),
        );
      } catch (error) {
        if (!(error instanceof TransactionCanceledException)) {
          failed.push(...part.map((update) => update.requestId));
          continue;
        }
        // A record that ended meanwhile (or a conflict) cancels the others with it: they are written one by one.
        const reasons = error.CancellationReasons ?? [];
        await mapLimit(
          part.filter((_, i) => reasons[i]?.Code !== 'ConditionalCheckFailed'),
          8,
          single,
        );
      }
    }
    return failed;
  }

  #progressUpdate({ requestId, progress }: ProgressUpdate) {
    return {
      TableName: this.tableName,
      Key: { requestId },
      UpdateExpression: 'SET cloudProgress = :progress',
      ConditionExpression: '#status = :inProgress',
      ExpressionAttributeNames: { '#status': 'status' },
      ExpressionAttributeValues: { ':progress': progress, ':inProgress': 'IN_PROGRESS' },
    };
  }

  async complete(
    event: CompletionEvent,
    from: readonly LedgerStatus[] | DecidedFrom = ENDABLE_STATUSES,
  ): Promise<boolean> {
    const update = this.#terminalUpdate(event, completeCondition(from)).Update as NonNullable<
      TransactItem['Update']
    >;
    try {
      await this.#documents.send(
        new UpdateCommand({ ...update, ReturnValuesOnConditionCheckFailure: 'ALL_OLD' }),
      );
      return true;
    } catch (error) {
      if (!isConditionFailure(error)) throw error;
      // Our own write, applied on a try whose answer was lost and refused on the SDK's retry: it is ours.
      return storedEventId(error.Item) === event.eventId;
    }
  }

  async markPublished(requestId: string, now: Date, keepPending = false): Promise<void> {
    await this.#documents.send(
      new UpdateCommand({
        TableName: this.tableName,
        Key: { requestId },
        UpdateExpression: `SET eventPublishedAt = :now${keepPending ? '' : ' REMOVE pendingShard'}`,
        ConditionExpression: 'attribute_exists(requestId)',
        ExpressionAttributeValues: { ':now': now.toISOString() },
      }),
    );
  }

  async recordCallback(requestId: string, callback: CallbackState, keepPending: boolean): Promise<void> {
    await this.#documents.send(
      new UpdateCommand({
        TableName: this.tableName,
        Key: { requestId },
        UpdateExpression: `SET #callback = :callback${keepPending ? '' : ' REMOVE pendingShard'}`,
        ConditionExpression: 'attribute_exists(requestId)',
        ExpressionAttributeNames: { '#callback': 'callback' },
        ExpressionAttributeValues: { ':callback': callback },
      }),
    );
  }

  async deferPoll(requestId: string, retryAt: number): Promise<void> {
    await this.#documents.send(
      new UpdateCommand({
        TableName: this.tableName,
        Key: { requestId },
        UpdateExpression: 'SET pollRetryAt = :at',
        ConditionExpression: 'attribute_exists(requestId)',
        ExpressionAttributeValues: { ':at': retryAt },
      }),
    );
  }

  async completeNew(event: CompletionEvent): Promise<boolean> {
    // The condition, not a read before it, keeps a rejection off a request written a moment ago.
    const update = this.#terminalUpdate(event, {
      ConditionExpression: 'attribute_not_exists(requestId)',
      values: {},
    }).Update as NonNullable<TransactItem['Update']>;
    try {
      await this.#documents.send(new UpdateCommand(update));
      return true;
    } catch (error) {
      if (isConditionFailure(error)) return false;
      throw error;
    }
  }

  /**
   * Counts the deliveries of a completion event that came back from the bus, once per event id: delivery is at
   * least once, so a repeated id is counted apart (`duplicateDeliveries`), not as a second event.
   */
  async recordEventDelivery(
    requestId: string,
    eventId: string,
    status: string,
    now: Date,
  ): Promise<'first' | 'duplicate'> {
    try {
      await this.#documents.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { requestId },
          UpdateExpression:
            'SET lastDeliveredStatus = :status, lastDeliveredAt = :now ADD deliveredEvents :one, deliveredEventIds :ids',
          ConditionExpression: 'attribute_exists(requestId) AND NOT contains(deliveredEventIds, :id)',
          ExpressionAttributeValues: {
            ':status': status,
            ':now': now.toISOString(),
            ':one': 1,
            ':ids': new Set([eventId]),
            ':id': eventId,
          },
        }),
      );
      return 'first';
    } catch (error) {
      if (!isConditionFailure(error)) throw error;
      await this.#documents.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { requestId },
          UpdateExpression: 'ADD duplicateDeliveries :one',
          ConditionExpression: 'attribute_exists(requestId)',
          ExpressionAttributeValues: { ':one': 1 },
        }),
      );
      return 'duplicate';
    }
  }

  /**
   * Every shard of the pending index (and the first release's single partition), read in parallel, each item as
   * soon as its page arrives; or, `from` a cursor, only what an earlier listing had not handed out yet. A
   * failed query fails the pass without leaving another one's rejection unheard.
   */
  listPending(from?: PendingCursor): PendingListing {
    // Where each shard goes on from: the start of its page being handed out (null: its beginning); a shard
    // read to its end is dropped.
    const position = new Map<string, Record<string, unknown> | null>(
      from ? Object.entries(from) : PENDING_SHARD_KEYS.map((shard) => [shard, null]),
    );
    return {
      resumeFrom: () => (position.size > 0 ? Object.fromEntries(position) : undefined),
      [Symbol.asyncIterator]: () => this.#readPending(position),
    };
  }

  async *#readPending(position: Map<string, Record<string, unknown> | null>): AsyncGenerator<PendingItem> {
    type Page = {
      shard: string;
      items: Record<string, unknown>[];
      next?: Record<string, unknown>;
      error?: unknown;
    };
    const query = (shard: string, start: Record<string, unknown> | null): Promise<Page> =>
      this.#documents
        .send(
          new QueryCommand({
            TableName: this.tableName,
            IndexName: PENDING_INDEX,
            KeyConditionExpression: 'pendingShard = :shard',
            ExpressionAttributeValues: { ':shard': shard },
            Limit: this.#pendingPageSize,
            ...(start && { ExclusiveStartKey: start }),
          }),
        )
        .then(
          (answer) => ({
            shard,
            items: answer.Items ?? [],
            ...(answer.LastEvaluatedKey && { next: answer.LastEvaluatedKey }),
          }),
          // The others settle on their own (their queries never reject); this listing ends here.
          (error: unknown) => ({ shard, items: [], error: error ?? new Error('query failed') }),
        );
    const inFlight = new Map([...position].map(([shard, start]) => [shard, query(shard, start)]));
    while (inFlight.size > 0) {
      const page = await Promise.race(inFlight.values());
      if (page.error !== undefined) throw page.error;
      if (page.next) inFlight.set(page.shard, query(page.shard, page.next));
      else inFlight.delete(page.shard);
      for (const item of page.items) yield readPending(item);
      // Every item of the page was handed out: a listing from here starts after it.
      if (page.next) position.set(page.shard, page.next);
      else position.delete(page.shard);
    }
  }

  async loadPollCursor(): Promise<PendingCursor | undefined> {
    const { Item } = await this.#documents.send(
      new GetCommand({
        TableName: this.tableName,
        Key: { requestId: POLL_CURSOR_KEY },
        ConsistentRead: true,
      }),
    );
    // A cursor that does not read as one (another release wrote it) is dropped: the next pass reads it all.
    const stored = StoredPollCursor.safeParse(Item?.cursor);
    return stored.success ? stored.data : undefined;
  }

  async savePollCursor(cursor: PendingCursor | undefined): Promise<void> {
    await this.#documents.send(
      new UpdateCommand({
        TableName: this.tableName,
        Key: { requestId: POLL_CURSOR_KEY },
        ...(cursor
          ? { UpdateExpression: 'SET #cursor = :cursor', ExpressionAttributeValues: { ':cursor': cursor } }
          : { UpdateExpression: 'REMOVE #cursor' }),
        ExpressionAttributeNames: { '#cursor': 'cursor' },
      }),
    );
  }

  async describeGroup(groupKey: GroupKey): Promise<GroupDescription> {
    const { Item } = await this.#documents.send(
      new GetCommand({
        TableName: this.tableName,
        Key: { requestId: groupItemKey(groupKey) },
        ConsistentRead: true,
      }),
    );
    const item = Item ?? {};
    const group = GroupItem.safeParse(item);
    const intent = group.success ? (group.data.intent as Intent | undefined) : undefined;
    const activityId = group.success ? group.data.activityId : undefined;
    const number = (value: unknown) => (typeof value === 'number' ? value : undefined);
    const leaseUntil = number(item.leaseUntil);
    const retryAfter = number(item.retryAfter);
    const activityUntil = number(item.activityUntil);
    const [waiting, waitingCount, intentRecords, history] = await Promise.all([
      this.listWaiting(groupKey, GROUP_WAITING_SHOWN),
      this.#countWaiting(groupKey),
      intent ? this.getMany(intent.requestIds) : Promise.resolve([]),
      this.#groupHistory(groupKey, activityId),
    ]);
    return {
      groupKey,
      ...(typeof item.leaseOwner === 'string' &&
        leaseUntil !== undefined && { lease: { owner: item.leaseOwner, until: leaseUntil } }),
      ...(retryAfter !== undefined && { retryAfter }),
      ...(intent && { intent }),
      intentRecords,
      ...(activityId && {
        activity: {
          activityId,
          ...(activityUntil !== undefined && { until: activityUntil }),
          records: history.running,
        },
      }),
      waiting,
      waitingCount,
      outcomes: history.outcomes,
    };
  }

  async #countWaiting(groupKey: GroupKey): Promise<number> {
    let count = 0;
    let start: Record<string, unknown> | undefined;
    do {
      const answer = await this.#documents.send(
        new QueryCommand({
          TableName: this.tableName,
          IndexName: WAITING_INDEX,
          KeyConditionExpression: 'waitKey = :key',
          FilterExpression: '#status = :queued',
          ExpressionAttributeNames: { '#status': 'status' },
          ExpressionAttributeValues: { ':key': groupKey, ':queued': 'QUEUED' },
          Select: 'COUNT',
          ...(start && { ExclusiveStartKey: start }),
        }),
      );
      count += answer.Count ?? 0;
      start = answer.LastEvaluatedKey;
    } while (start);
    return count;
  }

  /**
   * The group's requests newest first, a page at a time, until the last ten outcomes and the running activity's
   * requests are found (or `GROUP_HISTORY_PAGES` pages were read: a group's history is long, an answer short).
   */
  async #groupHistory(groupKey: GroupKey, activityId: string | undefined) {
    const [provider, region, ...rest] = groupKey.split('#');
    const scalingGroupId = rest.join('#');
    const outcomes: Operation[] = [];
    const running: Operation[] = [];
    let start: Record<string, unknown> | undefined;
    for (let page = 0; page < GROUP_HISTORY_PAGES; page++) {
      const answer = await this.#documents.send(
        new QueryCommand({
          TableName: this.tableName,
          IndexName: HISTORY_INDEX,
          KeyConditionExpression: 'scalingGroupId = :group',
          ExpressionAttributeValues: { ':group': scalingGroupId },
          ScanIndexForward: false,
          Limit: 50,
          ...(start && { ExclusiveStartKey: start }),
        }),
      );
      const ids = (answer.Items ?? []).map((key) => String(key.requestId));
      // Same group id, another cloud or region: not this group.
      for (const record of await this.getMany(ids)) {
        if (record.provider !== provider || record.region !== region) continue;
        if (isTerminal(record.status)) outcomes.push(record);
        else if (activityId && record.activityId === activityId) running.push(record);
      }
      start = answer.LastEvaluatedKey;
      if (!start || (outcomes.length >= GROUP_OUTCOMES_SHOWN && (!activityId || running.length > 0))) break;
    }
    const completed = (record: Operation) => record.completedAt ?? record.updatedAt;
    outcomes.sort((a, b) => completed(b).localeCompare(completed(a)));
    return { outcomes: outcomes.slice(0, GROUP_OUTCOMES_SHOWN), running };
  }

  async #batchGet(keys: readonly string[]): Promise<Record<string, unknown>[]> {
    const found: Record<string, unknown>[] = [];
    for (let i = 0; i < keys.length; i += 100) {
      let pending: { requestId: string }[] = [...new Set(keys.slice(i, i + 100))].map((requestId) => ({
        requestId,
      }));
      while (pending.length > 0) {
        const { Responses, UnprocessedKeys } = await this.#documents.send(
          new BatchGetCommand({
            RequestItems: { [this.tableName]: { Keys: pending, ConsistentRead: true } },
          }),
        );
        found.push(...(Responses?.[this.tableName] ?? []));
        pending = (UnprocessedKeys?.[this.tableName]?.Keys ?? []) as { requestId: string }[];
      }
    }
    return found;
  }

  /**
   * Markers of the instances an intent sends, written before the intent itself: a marker whose intent never
   * came (a crash between) only says that an instance missing from the group is not a typo.
   */
  async #rememberTakenOut(groupKey: GroupKey, intent: Intent, now: Date): Promise<void> {
    const expiresAt = Math.floor(now.getTime() / 1000) + this.#retentionSeconds;
    const puts = (intent.instanceIds ?? []).map((instanceId) => ({
      PutRequest: {
        Item: {
          requestId: takenItemKey(groupKey, instanceId),
          instanceId,
          intentId: intent.id,
          at: now.toISOString(),
          expiresAt,
        },
      },
    }));
    for (let i = 0; i < puts.length; i += 25) {
      let batch = puts.slice(i, i + 25);
      while (batch.length > 0) {
        const { UnprocessedItems } = await this.#documents.send(
          new BatchWriteCommand({ RequestItems: { [this.tableName]: batch } }),
        );
        batch = (UnprocessedItems?.[this.tableName] ?? []) as typeof batch;
      }
    }
  }

  /** The markers of an intent whose only call the cloud refused: it took nothing out. */
  async #forgetTakenOut(groupKey: GroupKey, intent: Intent): Promise<void> {
    for (const instanceId of intent.instanceIds ?? []) {
      await this.#documents
        .send(
          new DeleteCommand({
            TableName: this.tableName,
            Key: { requestId: takenItemKey(groupKey, instanceId) },
            ConditionExpression: 'intentId = :intentId',
            ExpressionAttributeValues: { ':intentId': intent.id },
          }),
        )
        .catch((error: unknown) => {
          // A later intent's marker for the same instance stays.
          if (!isConditionFailure(error)) throw error;
        });
    }
  }

  #recordUpdate(
    requestId: string,
    condition: { ConditionExpression: string; values: Record<string, unknown> },
    change: { update: string; values: Record<string, unknown> },
  ): TransactItem {
    return {
      Update: {
        TableName: this.tableName,
        Key: { requestId },
        UpdateExpression: change.update,
        ConditionExpression: condition.ConditionExpression,
        ExpressionAttributeNames: { '#status': 'status' },
        ExpressionAttributeValues: { ...condition.values, ...change.values },
      },
    };
  }

  /** The terminal transition of a record: its status, its event, and when it expires. */
  #terminalUpdate(
    event: CompletionEvent,
    condition: { ConditionExpression: string; values: Record<string, unknown> },
  ): TransactItem {
    const expiresAt = Math.floor(Date.parse(event.completedAt) / 1000) + this.#retentionSeconds;
    return {
      Update: {
        TableName: this.tableName,
        Key: { requestId: event.requestId },
        UpdateExpression:
          'SET #status = :status, #event = :event, completedAt = :at, updatedAt = :at, pendingShard = :pending, attempts = :attempts, #action = if_not_exists(#action, :action), createdAt = if_not_exists(createdAt, :requestedAt), expiresAt = :expiresAt REMOVE waitKey',
        ConditionExpression: condition.ConditionExpression,
        ExpressionAttributeNames: { '#status': 'status', '#event': 'event', '#action': 'action' },
        ExpressionAttributeValues: {
          ...condition.values,
          ':status': LEDGER_STATUS_OF[event.status],
          ':event': event,
          ':at': event.completedAt,
          ':pending': pendingShardOf(event.requestId),
          ':attempts': event.attempts,
          ':action': event.action,
          ':requestedAt': event.requestedAt,
          ':expiresAt': expiresAt,
        },
      },
    };
  }

  async #fencedGroupUpdate(
    fence: Fence,
    now: Date,
    update: string,
    values: Record<string, unknown>,
  ): Promise<boolean> {
    try {
      await this.#documents.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { requestId: groupItemKey(fence.groupKey) },
          UpdateExpression: update,
          ConditionExpression: HOLDS_LEASE,
          ExpressionAttributeValues: { ...leaseValues(fence, now), ...values },
        }),
      );
      return true;
    } catch (error) {
      if (isConditionFailure(error)) return false;
      throw error;
    }
  }

  /**
   * One transaction whose first item is the group (the fence): which condition failed decides the answer. A
   * conflict with another writer's concurrent write to one of its items is tried again.
   */
  async #transact(items: TransactItem[]): Promise<'written' | 'lost-lease' | 'stale-records'> {
    for (let attempt = 1; ; attempt++) {
      try {
        await this.#documents.send(new TransactWriteCommand({ TransactItems: items }));
        return 'written';
      } catch (error) {
        if (!(error instanceof TransactionCanceledException)) throw error;
        const reasons = error.CancellationReasons ?? [];
        if (reasons[0]?.Code === 'ConditionalCheckFailed') return 'lost-lease';
        if (reasons.some((reason) => reason.Code === 'ConditionalCheckFailed')) return 'stale-records';
        if (attempt >= 4 || !reasons.some((reason) => reason.Code === 'TransactionConflict')) throw error;
        await new Promise((resolve) => setTimeout(resolve, 20 * attempt + Math.random() * 30));
      }
    }
  }
}

/** How much of a group `describeGroup` shows: waiting requests, outcomes, and pages of its history read. */
const GROUP_WAITING_SHOWN = 20;
const GROUP_OUTCOMES_SHOWN = 10;
const GROUP_HISTORY_PAGES = 6;

/** The lease is the fence: its owner, and not run out by the clock of the writer. */
const HOLDS_LEASE = 'leaseOwner = :owner AND leaseUntil > :now';
const leaseValues = (fence: Fence, now: Date) => ({ ':owner': fence.owner, ':now': now.getTime() });

function definedEntries(values: Record<string, string | undefined>): [string, string][] {
  return Object.entries(values).filter((entry): entry is [string, string] => entry[1] !== undefined);
}

/** How the group item changes with an intent's outcome (the fence condition is added by the caller). */
function groupChange(outcome: IntentOutcome): { update: string; values: Record<string, unknown> } {
  switch (outcome.kind) {
    case 'accepted':
      return outcome.activityId
        ? {
            update: 'SET activityId = :activityId, activityUntil = :holdUntil REMOVE #intent, retryAfter',
            values: { ':activityId': outcome.activityId, ':holdUntil': outcome.holdUntil },
          }
        : { update: 'REMOVE #intent, retryAfter', values: {} };
    case 'ambiguous':
      return { update: 'SET retryAfter = :retryAfter', values: { ':retryAfter': outcome.retryAfter } };
    case 'refused':
      return outcome.retryAfter
        ? {
            update: 'SET retryAfter = :retryAfter REMOVE #intent',
            values: { ':retryAfter': outcome.retryAfter },
          }
        : { update: 'REMOVE #intent, retryAfter', values: {} };
  }
}

/**
 * The condition of a terminal write: the record is in one of the statuses (or absent: a rejected message), or
 * still in the state the outcome was decided from (its status and intent, and no event yet).
 */
function completeCondition(from: readonly LedgerStatus[] | DecidedFrom): {
  ConditionExpression: string;
  values: Record<string, unknown>;
} {
  if (Array.isArray(from)) {
    const names = from.map((_, i) => `:from${i}`);
    return {
      ConditionExpression: `attribute_not_exists(requestId) OR #status IN (${names.join(', ')})`,
      values: Object.fromEntries(from.map((status, i) => [names[i], status])),
    };
  }
  const decided = from as DecidedFrom;
  const status = decided.status === undefined ? 'attribute_not_exists(#status)' : '#status = :decidedStatus';
  const intent =
    decided.intentId === undefined ? 'attribute_not_exists(intentId)' : 'intentId = :decidedIntent';
  return {
    ConditionExpression: `attribute_exists(requestId) AND attribute_not_exists(#event) AND ${status} AND ${intent}`,
    values: {
      ...(decided.status !== undefined && { ':decidedStatus': decided.status }),
      ...(decided.intentId !== undefined && { ':decidedIntent': decided.intentId }),
    },
  };
}

/** The event id of an item as DynamoDB returns it on a failed condition (not unmarshalled). */
function storedEventId(item: Record<string, unknown> | undefined): string | undefined {
  const event = item?.event as { M?: { eventId?: { S?: string } } } | undefined;
  return event?.M?.eventId?.S;
}

/** A pending item as the current contract reads it, or what can be said of one it cannot read. */
function readPending(item: Record<string, unknown>): PendingItem {
  const parsed = OperationRecord.safeParse(item);
  if (parsed.success) return { kind: 'record', record: parsed.data };
  const action = Action.safeParse(item.action);
  const issue = parsed.error.issues[0];
  const event = item.event as { eventId?: unknown } | undefined;
  return {
    kind: 'unreadable',
    requestId: String(item.requestId),
    ...(action.success && { action: action.data }),
    ...(typeof item.createdAt === 'string' && { createdAt: item.createdAt }),
    ...(typeof item.updatedAt === 'string' && { updatedAt: item.updatedAt }),
    ...(typeof item.status === 'string' && { status: item.status }),
    ...(typeof item.intentId === 'string' && { intentId: item.intentId }),
    ...(event &&
      typeof event === 'object' &&
      typeof event.eventId === 'string' && {
        storedEvent: event as unknown as CompletionEvent,
        ...(typeof item.eventPublishedAt === 'string' && { eventPublishedAt: item.eventPublishedAt }),
      }),
    reason: `${issue?.path.join('.') || '(root)'}: ${issue?.message ?? 'unreadable'}`.slice(0, 300),
  };
}
