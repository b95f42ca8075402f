import { ConditionalCheckFailedException, TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import {
  BatchGetCommand,
  type DynamoDBDocumentClient,
  TransactWriteCommand,
  type TransactWriteCommandInput,
} from '@aws-sdk/lib-dynamodb';
import type { Fence, GroupKey, StoredRecord as Operation } from '../detach/ports.ts';
import { OperationRecord } from './operation-record.ts';
import type { UpdateExpression } from './update-expression.ts';

/** What every room of the ledger shares: the one table, reached through one document client. */
export interface LedgerTable {
  readonly documents: DynamoDBDocumentClient;
  readonly tableName: string;
  /** Terminal records and markers expire (DynamoDB TTL on `expiresAt`) this long after they were written. */
  readonly retentionSeconds: number;
}

export type TransactItem = NonNullable<TransactWriteCommandInput['TransactItems']>[number];

/** A group's lease, intent and running activity live in the same table, under a key no request id can take. */
export const groupItemKey = (groupKey: GroupKey) => `group|${groupKey}`;
/** What this service took out of a group: one marker per instance (see `takenOut`). */
export const takenItemKey = (groupKey: GroupKey, instanceId: string) => `taken|${groupKey}|${instanceId}`;
/** Which intent an activity of a cloud without tokens belongs to (see `activityClaimedElsewhere`). */
export const claimItemKey = (groupKey: GroupKey, activityId: string) => `activity|${groupKey}|${activityId}`;

export const isConditionFailure = (error: unknown) => error instanceof ConditionalCheckFailedException;

/** The epoch second (DynamoDB TTL) at which an item written at `at` (epoch ms) expires. */
export const expiresAtOf = (table: LedgerTable, at: number) => Math.floor(at / 1000) + table.retentionSeconds;

/** The lease is the fence: its owner, and not run out by the clock of the writer. */
export const whenHoldsLease = (expression: UpdateExpression, fence: Fence, now: Date) =>
  expression.when('{name} = {value} AND {name} > {value}', {
    names: ['leaseOwner', 'leaseUntil'],
    values: [fence.owner, now.getTime()],
  });

/** The records of `items` the contract can read; the poller ends the others (LedgerRecordUnreadable). */
export const readableRecords = (items: readonly Record<string, unknown>[]): Operation[] =>
  items.flatMap((item) => {
    const parsed = OperationRecord.safeParse(item);
    return parsed.success ? [parsed.data] : [];
  });

/** Strongly consistent reads by key, a hundred at a time (the API's limit), until none is left unprocessed. */
export async function batchGet(
  table: LedgerTable,
  keys: readonly string[],
): Promise<Record<string, unknown>[]> {
  const found: Record<string, unknown>[] = [];
  for (let i = 0; i < keys.length; i += 100) {
    let pending: { requestId: string }[] = [...new Set(keys.slice(i, i + 100))].map((requestId) => ({
      requestId,
    }));
    while (pending.length > 0) {
      const { Responses, UnprocessedKeys } = await table.documents.send(
        new BatchGetCommand({
          RequestItems: { [table.tableName]: { Keys: pending, ConsistentRead: true } },
        }),
      );
      found.push(...(Responses?.[table.tableName] ?? []));
      pending = (UnprocessedKeys?.[table.tableName]?.Keys ?? []) as { requestId: string }[];
    }
  }
  return found;
}

/**
 * One transaction whose first item is the group (the fence): which condition failed decides the answer. A
 * conflict with another writer's concurrent write to one of its items is tried again.
 */
export async function transact(
  table: LedgerTable,
  items: TransactItem[],
): Promise<'written' | 'lost-lease' | 'stale-records'> {
  for (let attempt = 1; ; attempt++) {
    try {
      await table.documents.send(new TransactWriteCommand({ TransactItems: items }));
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

/** An UpdateItem request (or a transaction's Update) of one item of the table, from its built expression. */
export const keyedUpdate = (table: LedgerTable, requestId: string, expression: UpdateExpression) => ({
  TableName: table.tableName,
  Key: { requestId },
  ...expression.build(),
});
