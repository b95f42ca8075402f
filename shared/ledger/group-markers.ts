import { BatchWriteCommand, DeleteCommand, GetCommand } from '@aws-sdk/lib-dynamodb';
import type { GroupKey, Intent } from '../detach/ports.ts';
import {
  batchGet,
  claimItemKey,
  expiresAtOf,
  isConditionFailure,
  type LedgerTable,
  type TransactItem,
  takenItemKey,
} from './ledger-table.ts';
import { UpdateExpression } from './update-expression.ts';

/**
 * What a group's intents leave behind them, one item each: the instances they took out (`taken|...`) and, for a
 * cloud without client tokens, which intent an activity belongs to (`activity|...`).
 */
export class GroupMarkers {
  constructor(private readonly table: LedgerTable) {}

  async takenOut(groupKey: GroupKey, instanceIds: readonly string[]): Promise<Set<string>> {
    const items = await batchGet(
      this.table,
      instanceIds.map((id) => takenItemKey(groupKey, id)),
    );
    return new Set(items.map((item) => item.instanceId as string));
  }

  /**
   * Markers of the instances an intent sends, written before the intent itself: a marker whose intent never
   * came (a crash between) only says that an instance missing from the group is not a typo.
   */
  async rememberTakenOut(groupKey: GroupKey, intent: Intent, now: Date): Promise<void> {
    const expiresAt = expiresAtOf(this.table, now.getTime());
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
        const { UnprocessedItems } = await this.table.documents.send(
          new BatchWriteCommand({ RequestItems: { [this.table.tableName]: batch } }),
        );
        batch = (UnprocessedItems?.[this.table.tableName] ?? []) as typeof batch;
      }
    }
  }

  /** The markers of an intent whose only call the cloud refused: it took nothing out. */
  async forgetTakenOut(groupKey: GroupKey, intent: Intent): Promise<void> {
    for (const instanceId of intent.instanceIds ?? []) {
      await this.table.documents
        .send(
          new DeleteCommand({
            TableName: this.table.tableName,
            Key: { requestId: takenItemKey(groupKey, instanceId) },
            ...new UpdateExpression()
              .when('{name} = {value}', { names: ['intentId'], values: [intent.id] })
              .buildCondition(),
          }),
        )
        .catch((error: unknown) => {
          // A later intent's marker for the same instance stays.
          if (!isConditionFailure(error)) throw error;
        });
    }
  }

  async activityClaimedElsewhere(groupKey: GroupKey, activityId: string, intentId: string): Promise<boolean> {
    const { Item } = await this.table.documents.send(
      new GetCommand({
        TableName: this.table.tableName,
        Key: { requestId: claimItemKey(groupKey, activityId) },
        ConsistentRead: true,
      }),
    );
    return Item !== undefined && Item.intentId !== intentId;
  }

  /** The claim of an activity by its intent, written in the transaction that records the intent's outcome. */
  claimPut(groupKey: GroupKey, activityId: string, intent: Intent, now: Date): TransactItem {
    return {
      Put: {
        TableName: this.table.tableName,
        Item: {
          requestId: claimItemKey(groupKey, activityId),
          activityId,
          intentId: intent.id,
          requestIds: intent.requestIds,
          at: now.toISOString(),
          expiresAt: expiresAtOf(this.table, now.getTime()),
        },
      },
    };
  }
}
