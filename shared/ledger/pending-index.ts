import { createHash } from 'node:crypto';
import { GetCommand, QueryCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import * as z from 'zod';
import { Action, type CompletionEvent } from '../contracts/index.ts';
import type {
  GroupKey,
  StoredRecord as Operation,
  PendingCursor,
  PendingItem,
  PendingListing,
} from '../detach/ports.ts';
import { keyedUpdate, type LedgerTable, readableRecords } from './ledger-table.ts';
import { OperationRecord } from './operation-record.ts';
import { UpdateExpression } from './update-expression.ts';

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

type Page = {
  shard: string;
  items: Record<string, unknown>[];
  next?: Record<string, unknown>;
  error?: unknown;
};

/** The sparse indexes over the records: what the poller must visit (`pending`), what waits in a group. */
export class PendingIndex {
  constructor(
    private readonly table: LedgerTable,
    private readonly pendingPageSize: number,
  ) {}

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
    const inFlight = new Map([...position].map(([shard, start]) => [shard, this.#queryShard(shard, start)]));
    while (inFlight.size > 0) {
      const page = await Promise.race(inFlight.values());
      if (page.error !== undefined) throw page.error;
      if (page.next) inFlight.set(page.shard, this.#queryShard(page.shard, page.next));
      else inFlight.delete(page.shard);
      for (const item of page.items) yield readPending(item);
      // Every item of the page was handed out: a listing from here starts after it.
      if (page.next) position.set(page.shard, page.next);
      else position.delete(page.shard);
    }
  }

  #queryShard(shard: string, start: Record<string, unknown> | null): Promise<Page> {
    return this.table.documents
      .send(
        new QueryCommand({
          TableName: this.table.tableName,
          IndexName: PENDING_INDEX,
          KeyConditionExpression: 'pendingShard = :shard',
          ExpressionAttributeValues: { ':shard': shard },
          Limit: this.pendingPageSize,
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
  }

  async loadPollCursor(): Promise<PendingCursor | undefined> {
    const { Item } = await this.table.documents.send(
      new GetCommand({
        TableName: this.table.tableName,
        Key: { requestId: POLL_CURSOR_KEY },
        ConsistentRead: true,
      }),
    );
    // A cursor that does not read as one (another release wrote it) is dropped: the next pass reads it all.
    const stored = StoredPollCursor.safeParse(Item?.cursor);
    return stored.success ? stored.data : undefined;
  }

  async savePollCursor(cursor: PendingCursor | undefined): Promise<void> {
    const change = cursor
      ? new UpdateExpression().set('cursor', cursor)
      : new UpdateExpression().remove('cursor');
    await this.table.documents.send(new UpdateCommand(keyedUpdate(this.table, POLL_CURSOR_KEY, change)));
  }

  async listWaiting(groupKey: GroupKey, limit: number): Promise<Operation[]> {
    const { Items } = await this.table.documents.send(
      new QueryCommand({ ...this.#waitingQuery(groupKey), Limit: limit }),
    );
    // An item the contract cannot read is not sent; the poller ends it (LedgerRecordUnreadable).
    return readableRecords(Items ?? []);
  }

  async countWaiting(groupKey: GroupKey): Promise<number> {
    let count = 0;
    let start: Record<string, unknown> | undefined;
    do {
      const answer = await this.table.documents.send(
        new QueryCommand({
          ...this.#waitingQuery(groupKey),
          Select: 'COUNT',
          ...(start && { ExclusiveStartKey: start }),
        }),
      );
      count += answer.Count ?? 0;
      start = answer.LastEvaluatedKey;
    } while (start);
    return count;
  }

  #waitingQuery(groupKey: GroupKey) {
    return {
      TableName: this.table.tableName,
      IndexName: WAITING_INDEX,
      KeyConditionExpression: 'waitKey = :key',
      FilterExpression: '#status = :queued',
      ExpressionAttributeNames: { '#status': 'status' },
      ExpressionAttributeValues: { ':key': groupKey, ':queued': 'QUEUED' },
    };
  }
}

/** A pending item as the current contract reads it, or what can be said of one it cannot read. */
export function readPending(item: Record<string, unknown>): PendingItem {
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
