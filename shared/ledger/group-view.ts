import { GetCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { isTerminal } from '../detach/completion.ts';
import { groupKeyOf } from '../detach/dispatch.ts';
import {
  type GroupDescription,
  type GroupKey,
  hasRequest,
  type Intent,
  type StoredRecord as Operation,
} from '../detach/ports.ts';
import { GroupItem } from './group-state.ts';
import { groupItemKey, type LedgerTable } from './ledger-table.ts';
import type { OperationRecords } from './operation-records.ts';
import type { PendingIndex } from './pending-index.ts';

/**
 * Requests by group, newest first (`scalingGroupId`, `createdAt`; keys only, so written once per request): where
 * an operator's view of a group finds its running activity's requests and its latest outcomes.
 */
export const HISTORY_INDEX = 'history';

/** How much of a group `describeGroup` shows: waiting requests, outcomes, and pages of its history read. */
const GROUP_WAITING_SHOWN = 20;
const GROUP_OUTCOMES_SHOWN = 10;
const GROUP_HISTORY_PAGES = 6;

/** What an operator sees of a group: its item, its waiting requests and its history; reads only. */
export class GroupView {
  constructor(
    private readonly table: LedgerTable,
    private readonly records: OperationRecords,
    private readonly indexes: PendingIndex,
  ) {}

  async describeGroup(groupKey: GroupKey): Promise<GroupDescription> {
    const { Item } = await this.table.documents.send(
      new GetCommand({
        TableName: this.table.tableName,
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
      this.indexes.listWaiting(groupKey, GROUP_WAITING_SHOWN),
      this.indexes.countWaiting(groupKey),
      intent ? this.records.getMany(intent.requestIds) : Promise.resolve([]),
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

  /**
   * The group's requests newest first, a page at a time, until the last ten outcomes and the running activity's
   * requests are found (or `GROUP_HISTORY_PAGES` pages were read: a group's history is long, an answer short).
   */
  async #groupHistory(groupKey: GroupKey, activityId: string | undefined) {
    // A group id has no '#' (the contracts refuse one); a member account's group key ends with its account.
    const [, , scalingGroupId] = groupKey.split('#');
    const outcomes: Operation[] = [];
    const running: Operation[] = [];
    let start: Record<string, unknown> | undefined;
    for (let page = 0; page < GROUP_HISTORY_PAGES; page++) {
      const answer = await this.table.documents.send(
        new QueryCommand({
          TableName: this.table.tableName,
          IndexName: HISTORY_INDEX,
          KeyConditionExpression: 'scalingGroupId = :group',
          ExpressionAttributeValues: { ':group': scalingGroupId },
          ScanIndexForward: false,
          Limit: 50,
          ...(start && { ExclusiveStartKey: start }),
        }),
      );
      const ids = (answer.Items ?? []).map((key) => String(key.requestId));
      // Same group id, another cloud, region or account: not this group.
      for (const record of await this.records.getMany(ids)) {
        const key = hasRequest(record)
          ? groupKeyOf(record.request)
          : `${record.provider}#${record.region}#${record.scalingGroupId}`;
        if (key !== groupKey) continue;
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
}
