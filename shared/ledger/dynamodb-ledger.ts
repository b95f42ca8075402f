import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { Ledger } from '../detach/ports.ts';
import { GroupMarkers } from './group-markers.ts';
import { GroupStates } from './group-state.ts';
import { GroupView } from './group-view.ts';
import type { LedgerTable } from './ledger-table.ts';
import { OperationRecords } from './operation-records.ts';
import { PendingIndex } from './pending-index.ts';

export { HISTORY_INDEX } from './group-view.ts';
export { PENDING_INDEX, PENDING_SHARDS, pendingShardOf, WAITING_INDEX } from './pending-index.ts';

export interface DynamoDbLedgerOptions {
  /** Terminal records expire (DynamoDB TTL on `expiresAt`) this many days after they ended. */
  retentionDays?: number;
  /** Items per query of the pending index (small pages keep a streaming pass's memory small). */
  pendingPageSize?: number;
}

/**
 * The Ledger port on one DynamoDB table keyed by requestId, in rooms: the records of requests, the groups'
 * lease, intent and activity, their markers, the indexes the poller and the dispatcher read, the operator's view.
 */
export class DynamoDbLedger implements Ledger {
  readonly #records: OperationRecords;
  readonly #groups: GroupStates;
  readonly #markers: GroupMarkers;
  readonly #indexes: PendingIndex;
  readonly #view: GroupView;

  constructor(client: DynamoDBClient, tableName: string, options: DynamoDbLedgerOptions = {}) {
    const table: LedgerTable = {
      documents: DynamoDBDocumentClient.from(client, { marshallOptions: { removeUndefinedValues: true } }),
      tableName,
      retentionSeconds: (options.retentionDays ?? 90) * 86_400,
    };
    this.#records = new OperationRecords(table);
    this.#markers = new GroupMarkers(table);
    this.#groups = new GroupStates(table, this.#markers);
    this.#indexes = new PendingIndex(table, options.pendingPageSize ?? 200);
    this.#view = new GroupView(table, this.#records, this.#indexes);
  }

  begin: Ledger['begin'] = (operation, now) => this.#records.begin(operation, now);
  get: Ledger['get'] = (requestId) => this.#records.get(requestId);
  getMany: Ledger['getMany'] = (requestIds) => this.#records.getMany(requestIds);
  recordProgress: Ledger['recordProgress'] = (updates) => this.#records.recordProgress(updates);
  complete: Ledger['complete'] = (event, from) => this.#records.complete(event, from);
  completeNew: Ledger['completeNew'] = (event) => this.#records.completeNew(event);
  markPublished: Ledger['markPublished'] = (requestId, now, keepPending) =>
    this.#records.markPublished(requestId, now, keepPending);
  recordCallback: Ledger['recordCallback'] = (requestId, callback, keepPending) =>
    this.#records.recordCallback(requestId, callback, keepPending);
  deferPoll: Ledger['deferPoll'] = (requestId, retryAt) => this.#records.deferPoll(requestId, retryAt);
  recordEventDelivery = (requestId: string, eventId: string, status: string, now: Date) =>
    this.#records.recordEventDelivery(requestId, eventId, status, now);

  acquireGroup: Ledger['acquireGroup'] = (groupKey, owner, now, leaseMs) =>
    this.#groups.acquireGroup(groupKey, owner, now, leaseMs);
  writeIntent: Ledger['writeIntent'] = (fence, intent, plans, now) =>
    this.#groups.writeIntent(fence, intent, plans, now);
  beginCall: Ledger['beginCall'] = (fence, intentId, now, leaseMs) =>
    this.#groups.beginCall(fence, intentId, now, leaseMs);
  resolveIntent: Ledger['resolveIntent'] = (fence, intent, outcome, ended, now) =>
    this.#groups.resolveIntent(fence, intent, outcome, ended, now);
  endWaiting: Ledger['endWaiting'] = (fence, events, now) => this.#groups.endWaiting(fence, events, now);
  backOff: Ledger['backOff'] = (fence, retryAfter, now) => this.#groups.backOff(fence, retryAfter, now);
  releaseGroup: Ledger['releaseGroup'] = (fence) => this.#groups.releaseGroup(fence);
  finishGroupActivity: Ledger['finishGroupActivity'] = (groupKey, activityId) =>
    this.#groups.finishGroupActivity(groupKey, activityId);
  activityClaimedElsewhere: Ledger['activityClaimedElsewhere'] = (groupKey, activityId, intentId) =>
    this.#markers.activityClaimedElsewhere(groupKey, activityId, intentId);
  takenOut: Ledger['takenOut'] = (groupKey, instanceIds) => this.#markers.takenOut(groupKey, instanceIds);

  listWaiting: Ledger['listWaiting'] = (groupKey, limit) => this.#indexes.listWaiting(groupKey, limit);
  listPending: Ledger['listPending'] = (from) => this.#indexes.listPending(from);
  loadPollCursor: Ledger['loadPollCursor'] = () => this.#indexes.loadPollCursor();
  savePollCursor: Ledger['savePollCursor'] = (cursor) => this.#indexes.savePollCursor(cursor);

  describeGroup: Ledger['describeGroup'] = (groupKey) => this.#view.describeGroup(groupKey);
}
