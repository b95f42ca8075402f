import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { describe, expect, it } from 'vitest';
import type { CompletionEvent } from '../contracts/index.ts';
import { groupChange, intentRecordChanges } from './group-state.ts';
import {
  expiresAtOf,
  groupItemKey,
  keyedUpdate,
  type LedgerTable,
  readableRecords,
  whenHoldsLease,
} from './ledger-table.ts';
import { terminalChange, whenCompletable } from './operation-records.ts';
import { PENDING_SHARDS, pendingShardOf, readPending } from './pending-index.ts';
import { UpdateExpression } from './update-expression.ts';

// Pure helpers only: nothing here sends a request, so the table needs no client.
const table: LedgerTable = {
  documents: undefined as unknown as DynamoDBDocumentClient,
  tableName: 'operations',
  retentionSeconds: 86_400,
};
const now = new Date('2026-12-01T10:00:00.000Z');
const event = {
  version: '1',
  eventId: 'e-1',
  requestId: 'r-1',
  action: 'detach-instances',
  status: 'Succeeded',
  attempts: 2,
  requestedAt: '2026-12-01T09:00:00.000Z',
  completedAt: '2026-12-01T10:00:00.000Z',
} as CompletionEvent;
const record = {
  requestId: 'r-2',
  action: 'detach-instances',
  status: 'QUEUED',
  attempts: 0,
  createdAt: '2026-12-01T09:00:00.000Z',
  updatedAt: '2026-12-01T09:00:00.000Z',
};

describe('ledger table helpers', () => {
  it('keys an update by request id, and fences it with the lease on the writer clock', () => {
    const change = whenHoldsLease(
      new UpdateExpression().set('retryAfter', 5),
      { groupKey: 'aliyun#cn#asg-1', owner: 'me', until: 9 },
      now,
    );

    expect(keyedUpdate(table, groupItemKey('aliyun#cn#asg-1'), change)).toEqual({
      TableName: 'operations',
      Key: { requestId: 'group|aliyun#cn#asg-1' },
      UpdateExpression: 'SET #retryAfter = :v0',
      ConditionExpression: '(#leaseOwner = :v1 AND #leaseUntil > :v2)',
      ExpressionAttributeNames: {
        '#retryAfter': 'retryAfter',
        '#leaseOwner': 'leaseOwner',
        '#leaseUntil': 'leaseUntil',
      },
      ExpressionAttributeValues: { ':v0': 5, ':v1': 'me', ':v2': now.getTime() },
    });
  });

  it('expires an item the retention after it was written, in epoch seconds', () => {
    expect(expiresAtOf(table, now.getTime())).toBe(now.getTime() / 1000 + 86_400);
  });

  it('keeps the records the contract reads and leaves out the others', () => {
    expect(readableRecords([record, { requestId: 'r-3' }]).map((r) => r.requestId)).toEqual(['r-2']);
  });
});

describe('operation record changes', () => {
  it('ends a record with its status, event, pending shard and expiry, and takes it out of its group', () => {
    const built = terminalChange(table, event).build();

    expect(built.UpdateExpression).toBe(
      'SET #status = :v0, #event = :v1, #completedAt = :v2, #updatedAt = :v3, #pendingShard = :v4, #attempts = :v5, #action = if_not_exists(#action, :v6), #createdAt = if_not_exists(#createdAt, :v7), #expiresAt = :v8 REMOVE #waitKey',
    );
    expect(Object.values(built.ExpressionAttributeValues ?? {})).toEqual([
      'SUCCEEDED',
      event,
      event.completedAt,
      event.completedAt,
      pendingShardOf('r-1'),
      2,
      'detach-instances',
      event.requestedAt,
      Date.parse(event.completedAt) / 1000 + 86_400,
    ]);
  });

  it('completes from a list of statuses, or an absent record', () => {
    const built = whenCompletable(new UpdateExpression(), ['QUEUED', 'IN_PROGRESS']).buildCondition();

    expect(built.ConditionExpression).toBe('(attribute_not_exists(#requestId) OR #status IN (:v0, :v1))');
    expect(built.ExpressionAttributeValues).toEqual({ ':v0': 'QUEUED', ':v1': 'IN_PROGRESS' });
  });

  it('completes from the state an outcome was decided from: same status and intent, no event yet', () => {
    const decided = whenCompletable(new UpdateExpression(), { status: 'SUBMITTED', intentId: 'i-1' });
    const neverSent = whenCompletable(new UpdateExpression(), { status: undefined, intentId: undefined });

    expect(decided.buildCondition().ConditionExpression).toBe(
      '(attribute_exists(#requestId) AND attribute_not_exists(#event)) AND (#status = :v0) AND (#intentId = :v1)',
    );
    expect(neverSent.buildCondition().ConditionExpression).toBe(
      '(attribute_exists(#requestId) AND attribute_not_exists(#event)) AND (attribute_not_exists(#status)) AND (attribute_not_exists(#intentId))',
    );
  });
});

describe('group changes with an intent outcome', () => {
  it('holds the group for an accepted activity, and frees it for an accepted call without one', () => {
    expect(
      groupChange({ kind: 'accepted', requestIds: ['r-1'], activityId: 'a-1', holdUntil: 7 }).build()
        .UpdateExpression,
    ).toBe('SET #activityId = :v0, #activityUntil = :v1 REMOVE #intent, #retryAfter');
    expect(groupChange({ kind: 'accepted', requestIds: ['r-1'] }).build().UpdateExpression).toBe(
      'REMOVE #intent, #retryAfter',
    );
  });

  it('keeps the intent of an ambiguous call, and drops a refused one (backing off when told)', () => {
    const error = { code: 'Throttling', message: 'slow down' };
    expect(
      groupChange({ kind: 'ambiguous', requestIds: [], error, retryAfter: 5, countsAsAttempt: true }).build()
        .UpdateExpression,
    ).toBe('SET #retryAfter = :v0');
    expect(groupChange({ kind: 'refused', requeue: [], retryAfter: 5 }).build().UpdateExpression).toBe(
      'SET #retryAfter = :v0 REMOVE #intent',
    );
    expect(groupChange({ kind: 'refused', requeue: [] }).build().UpdateExpression).toBe(
      'REMOVE #intent, #retryAfter',
    );
  });

  it('moves accepted records on, with what the cloud said of them', () => {
    const [[requestId, change]] = intentRecordChanges(
      { kind: 'accepted', requestIds: ['r-1'], activityId: 'a-1' },
      now,
    ) as [[string, UpdateExpression]];

    expect(requestId).toBe('r-1');
    expect(change.build()).toMatchObject({
      UpdateExpression:
        'SET #status = :v0, #submittedAt = :v1, #updatedAt = :v2, #activityId = :v3 REMOVE #waitKey ADD #attempts :v4',
      ExpressionAttributeValues: { ':v0': 'IN_PROGRESS', ':v3': 'a-1', ':v4': 1 },
    });
  });

  it('requeues refused records, alone after a fatal error, counting the attempt only when told', () => {
    const changes = intentRecordChanges(
      {
        kind: 'refused',
        requeue: [
          {
            requestId: 'r-1',
            countsAsAttempt: true,
            lastError: { code: 'Bad', message: 'no', kind: 'fatal' },
          },
          { requestId: 'r-2', countsAsAttempt: false },
        ],
      },
      now,
    );

    expect(changes.map(([id, change]) => [id, change.build().UpdateExpression])).toEqual([
      ['r-1', 'SET #status = :v0, #updatedAt = :v1, #lastError = :v2, #alone = :v3 ADD #attempts :v4'],
      ['r-2', 'SET #status = :v0, #updatedAt = :v1 ADD #attempts :v2'],
    ]);
    expect(changes[1]?.[1].build().ExpressionAttributeValues).toMatchObject({ ':v2': 0 });
  });
});

describe('pending index helpers', () => {
  it('spreads request ids over the shards, the same id always to the same shard', () => {
    const shards = new Set(Array.from({ length: 200 }, (_, i) => pendingShardOf(`r-${i}`)));

    expect(pendingShardOf('r-1')).toBe(pendingShardOf('r-1'));
    expect(
      [...shards].every((shard) => /^P#\d+$/.test(shard) && Number(shard.slice(2)) < PENDING_SHARDS),
    ).toBe(true);
    expect(shards.size).toBe(PENDING_SHARDS);
  });

  it('reads a pending item as a record, or says what it can of one it cannot read', () => {
    expect(readPending(record)).toMatchObject({ kind: 'record', record: { requestId: 'r-2' } });
    expect(
      readPending({ requestId: 'r-3', action: 'detach-instances', status: 'QUEUED', event: event }),
    ).toEqual({
      kind: 'unreadable',
      requestId: 'r-3',
      action: 'detach-instances',
      status: 'QUEUED',
      storedEvent: event,
      reason: expect.stringMatching(/^attempts: /),
    });
  });
});
