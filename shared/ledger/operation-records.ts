import { TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import { GetCommand, PutCommand, TransactWriteCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { CompletionEvent, LedgerStatus } from '../contracts/index.ts';
import type { CallbackState } from '../detach/callbacks.ts';
import { chunk, mapLimit } from '../detach/collections.ts';
import { ENDABLE_STATUSES, LEDGER_STATUS_OF } from '../detach/completion.ts';
import type {
  DecidedFrom,
  NewOperation,
  StoredRecord as Operation,
  ProgressUpdate,
} from '../detach/ports.ts';
import {
  batchGet,
  expiresAtOf,
  isConditionFailure,
  keyedUpdate,
  type LedgerTable,
  readableRecords,
} from './ledger-table.ts';
import { newRecord, OperationRecord } from './operation-record.ts';
import { pendingShardOf } from './pending-index.ts';
import { UpdateExpression } from './update-expression.ts';

/** Progress updates from this many on go as transactions (see `recordProgress`). */
const PROGRESS_TRANSACTION_FROM = 10;

/** The records of requests, one item each keyed by requestId: created, read, ended, delivered. */
export class OperationRecords {
  constructor(private readonly table: LedgerTable) {}

  async begin(operation: NewOperation, now: Date): Promise<{ record: Operation; created: boolean }> {
    const record = newRecord(operation, now);
    try {
      await this.table.documents.send(
        new PutCommand({
          TableName: this.table.tableName,
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
    const { Item } = await this.table.documents.send(
      new GetCommand({ TableName: this.table.tableName, Key: { requestId }, ConsistentRead: true }),
    );
    return Item ? OperationRecord.parse(Item) : undefined;
  }

  /**
   * In the order asked (BatchGetItem answers in any order). Records the contract cannot read are left out: the
   * poller ends them (LedgerRecordUnreadable).
   */
  async getMany(requestIds: readonly string[]): Promise<Operation[]> {
    const byId = new Map<string, Operation>();
    for (const record of readableRecords(await batchGet(this.table, requestIds))) {
      byId.set(record.requestId, record);
    }
    return requestIds.flatMap((id) => {
      const record = byId.get(id);
      return record ? [record] : [];
    });
  }

  async recordProgress(updates: readonly ProgressUpdate[]): Promise<string[]> {
    // One transaction per 100 (the API's limit), each write conditioned on the record still running: a pass
    // over 10,000 new progresses spent 6 s of its own CPU on 10,000 UpdateItem requests, 0.3 s on 100 of these.
    const failed: string[] = [];
    const single = (update: ProgressUpdate) =>
      this.table.documents.send(new UpdateCommand(this.#progressUpdate(update))).then(
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
        await this.table.documents.send(
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
    return keyedUpdate(
      this.table,
      requestId,
      new UpdateExpression()
        .set('cloudProgress', progress)
        .when('{name} = {value}', { names: ['status'], values: ['IN_PROGRESS'] }),
    );
  }

  async complete(
    event: CompletionEvent,
    from: readonly LedgerStatus[] | DecidedFrom = ENDABLE_STATUSES,
  ): Promise<boolean> {
    const change = whenCompletable(terminalChange(this.table, event), from);
    try {
      await this.table.documents.send(
        new UpdateCommand({
          ...keyedUpdate(this.table, event.requestId, change),
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        }),
      );
      return true;
    } catch (error) {
      if (!isConditionFailure(error)) throw error;
      // Our own write, applied on a try whose answer was lost and refused on the SDK's retry: it is ours.
      return storedEventId(error.Item) === event.eventId;
    }
  }

  async completeNew(event: CompletionEvent): Promise<boolean> {
    // The condition, not a read before it, keeps a rejection off a request written a moment ago.
    const change = terminalChange(this.table, event).when('attribute_not_exists({name})', {
      names: ['requestId'],
    });
    try {
      await this.table.documents.send(new UpdateCommand(keyedUpdate(this.table, event.requestId, change)));
      return true;
    } catch (error) {
      if (isConditionFailure(error)) return false;
      throw error;
    }
  }

  async markPublished(requestId: string, now: Date, keepPending = false): Promise<void> {
    await this.#updateExisting(requestId, new UpdateExpression().set('eventPublishedAt', now.toISOString()), {
      keepPending,
    });
  }

  async recordCallback(requestId: string, callback: CallbackState, keepPending: boolean): Promise<void> {
    await this.#updateExisting(requestId, new UpdateExpression().set('callback', callback), { keepPending });
  }

  async deferPoll(requestId: string, retryAt: number): Promise<void> {
    await this.#updateExisting(requestId, new UpdateExpression().set('pollRetryAt', retryAt));
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
    const first = new UpdateExpression()
      .set('lastDeliveredStatus', status)
      .set('lastDeliveredAt', now.toISOString())
      .add('deliveredEvents', 1)
      .add('deliveredEventIds', new Set([eventId]))
      .when('attribute_exists({name}) AND NOT contains({name}, {value})', {
        names: ['requestId', 'deliveredEventIds'],
        values: [eventId],
      });
    try {
      await this.table.documents.send(new UpdateCommand(keyedUpdate(this.table, requestId, first)));
      return 'first';
    } catch (error) {
      if (!isConditionFailure(error)) throw error;
      await this.#updateExisting(requestId, new UpdateExpression().add('duplicateDeliveries', 1));
      return 'duplicate';
    }
  }

  /**
   * An update of a record that must exist. Unless `keepPending` (a callback is still to be delivered), the
   * record leaves the pending index: the poller has nothing more to do with it.
   */
  async #updateExisting(
    requestId: string,
    change: UpdateExpression,
    pending?: { keepPending: boolean },
  ): Promise<void> {
    if (pending && !pending.keepPending) change.remove('pendingShard');
    change.when('attribute_exists({name})', { names: ['requestId'] });
    await this.table.documents.send(new UpdateCommand(keyedUpdate(this.table, requestId, change)));
  }
}

/** The terminal transition of a record: its status, its event, and when it expires (the caller's condition). */
export function terminalChange(table: LedgerTable, event: CompletionEvent): UpdateExpression {
  return new UpdateExpression()
    .set('status', LEDGER_STATUS_OF[event.status])
    .set('event', event)
    .set('completedAt', event.completedAt)
    .set('updatedAt', event.completedAt)
    .set('pendingShard', pendingShardOf(event.requestId))
    .set('attempts', event.attempts)
    .setIfAbsent('action', event.action)
    .setIfAbsent('createdAt', event.requestedAt)
    .set('expiresAt', expiresAtOf(table, Date.parse(event.completedAt)))
    .remove('waitKey');
}

/**
 * The condition of a terminal write: the record is in one of the statuses (or absent: a rejected message), or
 * still in the state the outcome was decided from (its status and intent, and no event yet).
 */
export function whenCompletable(
  change: UpdateExpression,
  from: readonly LedgerStatus[] | DecidedFrom,
): UpdateExpression {
  if (Array.isArray(from)) {
    return change.when(
      `attribute_not_exists({name}) OR {name} IN (${from.map(() => '{value}').join(', ')})`,
      {
        names: ['requestId', 'status'],
        values: [...from],
      },
    );
  }
  const decided = from as DecidedFrom;
  change.when('attribute_exists({name}) AND attribute_not_exists({name})', { names: ['requestId', 'event'] });
  for (const [name, value] of [
    ['status', decided.status],
    ['intentId', decided.intentId],
  ] as const) {
    if (value === undefined) change.when('attribute_not_exists({name})', { names: [name] });
    else change.when('{name} = {value}', { names: [name], values: [value] });
  }
  return change;
}

/** The event id of an item as DynamoDB returns it on a failed condition (not unmarshalled). */
function storedEventId(item: Record<string, unknown> | undefined): string | undefined {
  const event = item?.event as { M?: { eventId?: { S?: string } } } | undefined;
  return event?.M?.eventId?.S;
}
