import { ConditionalCheckFailedException, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import {
  DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  paginateQuery,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import { type CompletionEvent, targetsOf } from '../contracts/index.ts';
import type { CallbackState } from '../detach/callbacks.ts';
import { LEDGER_STATUS_OF } from '../detach/completion.ts';
import type {
  CloudProgress,
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
    try {
      await this.#documents.send(
        new PutCommand({
          TableName: this.tableName,
          Item: item,
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
            .join('')} ADD attempts :one`,
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
            'SET #status = :status, #event = :event, completedAt = :at, updatedAt = :at, pendingShard = :pending, attempts = :attempts, #action = if_not_exists(#action, :action), createdAt = if_not_exists(createdAt, :requestedAt)',
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
