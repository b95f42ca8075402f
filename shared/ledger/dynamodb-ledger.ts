import { ConditionalCheckFailedException, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import {
  DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  paginateQuery,
  QueryCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import { type CompletionEvent, targetsOf } from '../contracts/index.ts';
import type { CallbackState } from '../detach/callbacks.ts';
import { LEDGER_STATUS_OF } from '../detach/completion.ts';
import type {
  Batch,
  CloudProgress,
  GroupChange,
  GroupState,
  Ledger,
  NewOperation,
  OperationRecord as Operation,
  SubmitResult,
} from '../detach/ports.ts';
import type { Plan } from '../detach/preflight.ts';
import type { DetachError } from '../errors.ts';
import { OperationRecord } from './operation-record.ts';

/** Items the poller must visit carry this attribute; the sparse index `pending` holds only them. */
export const PENDING_INDEX = 'pending';
/** Requests waiting for their group's turn, by group (`waitKey`), oldest first. */
export const WAITING_INDEX = 'waiting';
/** A group's lock and running activity live in the same table, under a key no request id can take. */
const groupItemKey = (groupKey: string) => `group|${groupKey}`;
const PENDING = 'P';
const OPEN_STATUSES = { ':queued': 'QUEUED', ':submitted': 'SUBMITTED', ':inProgress': 'IN_PROGRESS' };

const isConditionFailure = (error: unknown) => error instanceof ConditionalCheckFailedException;

/** The Ledger port on one DynamoDB table keyed by requestId. */
export class DynamoDbLedger implements Ledger {
  readonly #documents: DynamoDBDocumentClient;

  constructor(
    client: DynamoDBClient,
    private readonly tableName: string,
  ) {
    this.#documents = DynamoDBDocumentClient.from(client, {
      marshallOptions: { removeUndefinedValues: true },
    });
  }

  async begin(operation: NewOperation, now: Date): Promise<Operation> {
    const { request } = operation;
    const item: Operation = {
      requestId: operation.requestId,
      action: operation.action,
      status: 'QUEUED',
      provider: request.provider,
      region: request.region,
      scalingGroupId: request.scalingGroupId,
      ...targetsOf(request),
      request,
      clientToken: operation.clientToken,
      attempts: 0,
      createdAt: now.toISOString(),
      updatedAt: now.toISOString(),
    };
    // A request that waits for its group's turn is listed by group (index `waiting`) and visited by the poller.
    const waiting = operation.waitKey ? { waitKey: operation.waitKey, pendingShard: PENDING } : {};
    try {
      await this.#documents.send(
        new PutCommand({
          TableName: this.tableName,
          Item: { ...item, ...waiting },
          ConditionExpression: 'attribute_not_exists(requestId)',
        }),
      );
      return item;
    } catch (error) {
      if (!isConditionFailure(error)) throw error;
      return (await this.get(operation.requestId)) as Operation;
    }
  }

  async recordAttemptFailure(
    requestId: string,
    error: DetachError,
    nextClientToken: string,
    now: Date,
  ): Promise<void> {
    await this.#documents.send(
      new UpdateCommand({
        TableName: this.tableName,
        Key: { requestId },
        UpdateExpression: 'SET lastError = :error, updatedAt = :now, clientToken = :token ADD attempts :one',
        ConditionExpression: '#status = :queued',
        ExpressionAttributeNames: { '#status': 'status' },
        ExpressionAttributeValues: {
          ':error': { code: error.code, kind: error.kind, message: error.message },
          ':now': now.toISOString(),
          ':token': nextClientToken,
          ':one': 1,
          ':queued': 'QUEUED',
        },
      }),
    );
  }

  async markSubmitted(requestId: string, result: SubmitResult, now: Date): Promise<boolean> {
    const optional = Object.entries({
      activityId: result.activityId,
      cloudRequestId: result.cloudRequestId,
    }).filter((entry): entry is [string, string] => entry[1] !== undefined);
    try {
      await this.#documents.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { requestId },
          UpdateExpression: `SET #status = :status, submittedAt = :now, updatedAt = :now, pendingShard = :pending${optional
            .map(([name]) => `, ${name} = :${name}`)
            .join('')} REMOVE waitKey ADD attempts :one`,
          ConditionExpression: '#status = :queued',
          ExpressionAttributeNames: { '#status': 'status' },
          ExpressionAttributeValues: {
            ':status': result.activityId ? 'IN_PROGRESS' : 'SUBMITTED',
            ':now': now.toISOString(),
            ':pending': PENDING,
            ':one': 1,
            ':queued': 'QUEUED',
            ...Object.fromEntries(optional.map(([name, value]) => [`:${name}`, value])),
          },
        }),
      );
      return true;
    } catch (error) {
      if (isConditionFailure(error)) return false;
      throw error;
    }
  }

  async recordPlan(requestId: string, plan: Plan, now: Date): Promise<void> {
    await this.#documents.send(
      new UpdateCommand({
        TableName: this.tableName,
        Key: { requestId },
        UpdateExpression: 'SET #plan = :plan, updatedAt = :now',
        ConditionExpression: '#status = :queued',
        ExpressionAttributeNames: { '#plan': 'plan', '#status': 'status' },
        ExpressionAttributeValues: { ':plan': plan, ':now': now.toISOString(), ':queued': 'QUEUED' },
      }),
    );
  }

  async listWaiting(groupKey: string, limit: number): Promise<Operation[]> {
    const { Items } = await this.#documents.send(
      new QueryCommand({
        TableName: this.tableName,
        IndexName: WAITING_INDEX,
        KeyConditionExpression: 'waitKey = :key',
        ExpressionAttributeValues: { ':key': groupKey },
        Limit: limit,
      }),
    );
    return (Items ?? [])
      .map((item) => OperationRecord.parse(item))
      .filter((record) => record.status === 'QUEUED');
  }

  async acquireGroup(
    groupKey: string,
    owner: string,
    now: Date,
    leaseMs: number,
  ): Promise<GroupState | undefined> {
    try {
      const { Attributes } = await this.#documents.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { requestId: groupItemKey(groupKey) },
          UpdateExpression: 'SET lockOwner = :owner, lockedUntil = :until',
          ConditionExpression:
            '(attribute_not_exists(lockedUntil) OR lockedUntil < :now) AND (attribute_not_exists(activityId) OR activityUntil < :now) AND (attribute_not_exists(retryAfter) OR retryAfter <= :now)',
          ExpressionAttributeValues: {
            ':owner': owner,
            ':until': now.getTime() + leaseMs,
            ':now': now.getTime(),
          },
          ReturnValues: 'ALL_NEW',
        }),
      );
      return { groupKey, ...(Attributes?.batch && { batch: Attributes.batch as Batch }) };
    } catch (error) {
      if (isConditionFailure(error)) return undefined;
      throw error;
    }
  }

  async releaseGroup(groupKey: string, owner: string, change: GroupChange): Promise<void> {
    const set: string[] = [];
    const remove = ['lockOwner', 'lockedUntil'];
    const values: Record<string, unknown> = { ':owner': owner };
    if (change.activityId) {
      set.push('activityId = :activityId', 'activityUntil = :activityUntil');
      values[':activityId'] = change.activityId;
      values[':activityUntil'] = change.activityUntil;
    }
    if (change.batch) {
      set.push('#batch = :batch');
      values[':batch'] = change.batch;
    } else if (change.batch === null) remove.push('#batch');
    if (change.retryAfter) {
      set.push('retryAfter = :retryAfter');
      values[':retryAfter'] = change.retryAfter;
    } else remove.push('retryAfter');
    await this.#documents.send(
      new UpdateCommand({
        TableName: this.tableName,
        Key: { requestId: groupItemKey(groupKey) },
        UpdateExpression: `${set.length ? `SET ${set.join(', ')} ` : ''}REMOVE ${remove.join(', ')}`,
        ConditionExpression: 'lockOwner = :owner',
        // BATCH is a reserved word; a name map may only hold names the expression uses.
        ...(change.batch !== undefined && { ExpressionAttributeNames: { '#batch': 'batch' } }),
        ExpressionAttributeValues: values,
      }),
    );
  }

  async finishGroupActivity(groupKey: string, activityId: string): Promise<void> {
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

  async recordProgress(requestId: string, progress: CloudProgress): Promise<void> {
    await this.#documents
      .send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { requestId },
          UpdateExpression: 'SET cloudProgress = :progress',
          ConditionExpression: '#status = :inProgress',
          ExpressionAttributeNames: { '#status': 'status' },
          ExpressionAttributeValues: { ':progress': progress, ':inProgress': 'IN_PROGRESS' },
        }),
      )
      .catch((error: unknown) => {
        // The activity ended meanwhile: its progress no longer matters.
        if (!isConditionFailure(error)) throw error;
      });
  }

  async complete(event: CompletionEvent): Promise<boolean> {
    try {
      await this.#documents.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { requestId: event.requestId },
          UpdateExpression:
            'SET #status = :status, #event = :event, completedAt = :at, updatedAt = :at, pendingShard = :pending, attempts = :attempts, #action = if_not_exists(#action, :action), createdAt = if_not_exists(createdAt, :requestedAt) REMOVE waitKey',
          ConditionExpression:
            'attribute_not_exists(requestId) OR #status IN (:queued, :submitted, :inProgress)',
          ExpressionAttributeNames: { '#status': 'status', '#event': 'event', '#action': 'action' },
          ExpressionAttributeValues: {
            ':status': LEDGER_STATUS_OF[event.status],
            ':event': event,
            ':at': event.completedAt,
            ':pending': PENDING,
            ':attempts': event.attempts,
            ':action': event.action,
            ':requestedAt': event.requestedAt,
            ...OPEN_STATUSES,
          },
        }),
      );
      return true;
    } catch (error) {
      if (isConditionFailure(error)) return false;
      throw error;
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

  /** Counts deliveries of the completion event through the bus: exactly one is the promise. */
  async recordEventDelivery(requestId: string, status: string, now: Date): Promise<void> {
    await this.#documents.send(
      new UpdateCommand({
        TableName: this.tableName,
        Key: { requestId },
        UpdateExpression:
          'SET lastDeliveredStatus = :status, lastDeliveredAt = :now ADD deliveredEvents :one',
        ConditionExpression: 'attribute_exists(requestId)',
        ExpressionAttributeValues: { ':status': status, ':now': now.toISOString(), ':one': 1 },
      }),
    );
  }

  async get(requestId: string): Promise<Operation | undefined> {
    const { Item } = await this.#documents.send(
      new GetCommand({ TableName: this.tableName, Key: { requestId }, ConsistentRead: true }),
    );
    return Item ? OperationRecord.parse(Item) : undefined;
  }

  async *listPending(): AsyncIterable<Operation> {
    const pages = paginateQuery(
      { client: this.#documents, pageSize: 1000 },
      {
        TableName: this.tableName,
        IndexName: PENDING_INDEX,
        KeyConditionExpression: 'pendingShard = :pending',
        ExpressionAttributeValues: { ':pending': PENDING },
      },
    );
    for await (const page of pages) {
      for (const item of page.Items ?? []) yield OperationRecord.parse(item);
    }
  }
}
