import { randomUUID } from 'node:crypto';
import { DynamoDBClient, GetItemCommand, PutItemCommand, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { createLedgerTable } from '../local/services.ts';
import type { CompletionEvent, DetachInstancesRequest } from '../shared/contracts/index.ts';
import type { GroupKey, Intent, PendingItem } from '../shared/detach/ports.ts';
import { DynamoDbLedger, PENDING_SHARDS, pendingShardOf } from '../shared/ledger/dynamodb-ledger.ts';
import { uniqueId } from '../support/emulator-admin.ts';

const stack = inject('stack');
const dynamodb = new DynamoDBClient({ ...stack.aws, endpoint: stack.endpoints.dynamodb });
let table: string;
let ledger: DynamoDbLedger;

beforeAll(async () => {
  // A table of its own, so that listPending sees only this file's records.
  table = uniqueId('ledger-test');
  await createLedgerTable(stack.endpoints.dynamodb, table);
  ledger = new DynamoDbLedger(dynamodb, table, { retentionDays: 7 });
});

const now = new Date('2026-01-01T00:00:00.000Z');
const later = (ms: number) => new Date(now.getTime() + ms);
const aRequest = (scalingGroupId = uniqueId('asg')): DetachInstancesRequest => ({
  requestId: uniqueId('req'),
  provider: 'aliyun',
  region: 'cn-hangzhou',
  scalingGroupId,
  instanceIds: [uniqueId('i')],
  preflight: true,
  dryRun: false,
});
/** Spelled out here rather than by groupKeyOf: the ledger's keys are held to the documented spelling. */
const spelledGroupKey = (request: DetachInstancesRequest): GroupKey =>
  `aliyun#cn-hangzhou#${request.scalingGroupId}`;
const begin = async (request = aRequest()) =>
  (
    await ledger.begin(
      { requestId: request.requestId, action: 'detach-instances', request, clientToken: request.requestId },
      now,
    )
  ).record;
const anEvent = (requestId: string, status: CompletionEvent['status'] = 'Succeeded'): CompletionEvent => ({
  version: '1',
  eventId: randomUUID(),
  requestId,
  action: 'detach-instances',
  status,
  attempts: 1,
  requestedAt: now.toISOString(),
  completedAt: now.toISOString(),
});
const anIntent = (requestIds: string[], instanceIds: string[] = []): Intent => ({
  id: randomUUID(),
  action: 'detach-instances',
  requestIds,
  instanceIds,
  clientToken: 'token-1',
  createdAt: now.toISOString(),
  calls: 0,
});

async function pending(): Promise<PendingItem[]> {
  const items: PendingItem[] = [];
  for await (const item of ledger.listPending()) items.push(item);
  return items;
}
const idOf = (item: PendingItem) => (item.kind === 'record' ? item.record.requestId : item.requestId);

describe('DynamoDbLedger on DynamoDB Local', () => {
  it('begins once: a second begin returns the stored record, not created', async () => {
    const request = aRequest();
    await begin(request);

    const second = await ledger.begin(
      { requestId: request.requestId, action: 'detach-instances', request, clientToken: 'other' },
      later(1000),
    );

    expect(second.created).toBe(false);
    expect(second.record.clientToken).toBe(request.requestId);
    expect(second.record.waitKey).toBe(spelledGroupKey(request));
  });

  it('one lease holder at a time; an expired lease can be taken over', async () => {
    const request = aRequest();
    const first = await ledger.acquireGroup(spelledGroupKey(request), 'a', now, 1000);
    const second = await ledger.acquireGroup(spelledGroupKey(request), 'b', later(500), 1000);
    const third = await ledger.acquireGroup(spelledGroupKey(request), 'c', later(1001), 1000);

    expect(first?.fence.owner).toBe('a');
    expect(second).toBeUndefined();
    expect(third?.fence.owner).toBe('c');
  });

  it('writes an intent and its records together, and not at all with a lost lease', async () => {
    const request = aRequest();
    const record = await begin(request);
    const old = await ledger.acquireGroup(spelledGroupKey(request), 'old', now, 1000);
    await ledger.acquireGroup(spelledGroupKey(request), 'new', later(2000), 1000);

    const stale = await ledger.writeIntent(
      old?.fence as never,
      anIntent([record.requestId]),
      new Map(),
      later(2100),
    );

    expect(stale).toBe('lost-lease');
    expect((await ledger.get(record.requestId))?.status).toBe('QUEUED');
  });

  it('an intent naming a record that moved on changes nothing (stale index)', async () => {
    const request = aRequest();
    const [waiting, ended] = [await begin(request), await begin({ ...aRequest(request.scalingGroupId) })];
    await ledger.complete(anEvent(ended.requestId, 'TimedOut'));
    const { fence } = (await ledger.acquireGroup(spelledGroupKey(request), 'me', now, 10_000)) as never as {
      fence: never;
    };

    const result = await ledger.writeIntent(
      fence,
      anIntent([waiting.requestId, ended.requestId]),
      new Map(),
      later(10),
    );

    expect(result).toBe('stale-records');
    expect((await ledger.get(waiting.requestId))?.status).toBe('QUEUED');
  });

  it('records an accepted call on the records and the group in one step; a stale fence cannot', async () => {
    const request = aRequest();
    const record = await begin(request);
    const acquired = await ledger.acquireGroup(spelledGroupKey(request), 'me', now, 10_000);
    const fence = acquired?.fence as NonNullable<typeof acquired>['fence'];
    const intent = anIntent([record.requestId], request.instanceIds);
    expect(await ledger.writeIntent(fence, intent, new Map(), later(1))).toBe('written');
    const renewed = await ledger.beginCall(fence, intent.id, later(2), 10_000);
    expect(renewed).toBeDefined();

    const stale = await ledger.resolveIntent(
      { ...fence, owner: 'someone-else' },
      intent,
      { kind: 'accepted', requestIds: [record.requestId], activityId: 'asa-1', holdUntil: 99 },
      [],
      later(3),
    );
    const accepted = await ledger.resolveIntent(
      renewed as never,
      intent,
      {
        kind: 'accepted',
        requestIds: [record.requestId],
        activityId: 'asa-1',
        holdUntil: later(60_000).getTime(),
      },
      [],
      later(3),
    );

    expect(stale).toBe(false);
    expect(accepted).toBe(true);
    const stored = await ledger.get(record.requestId);
    expect(stored).toMatchObject({ status: 'IN_PROGRESS', activityId: 'asa-1', attempts: 1 });
    expect(stored?.waitKey).toBeUndefined();
    // The group is held by the activity until the poller finishes it.
    await ledger.releaseGroup(fence);
    expect(await ledger.acquireGroup(spelledGroupKey(request), 'next', later(5000), 1000)).toBeUndefined();
    await ledger.finishGroupActivity(spelledGroupKey(request), 'asa-1');
    expect(await ledger.acquireGroup(spelledGroupKey(request), 'next', later(5000), 1000)).toBeDefined();
    expect(await ledger.takenOut(spelledGroupKey(request), [...request.instanceIds, 'i-never'])).toEqual(
      new Set(request.instanceIds),
    );
  });

  it('writes progress a transaction of 100 at a time; a record that ended meanwhile stays as it ended', async () => {
    const records = await Promise.all(Array.from({ length: 101 }, () => begin()));
    // Running records (the dispatcher's transitions are tested above): only their status matters here.
    await Promise.all(
      records.map((record) =>
        dynamodb.send(
          new UpdateItemCommand({
            TableName: table,
            Key: { requestId: { S: record.requestId } },
            UpdateExpression: 'SET #status = :running',
            ExpressionAttributeNames: { '#status': 'status' },
            ExpressionAttributeValues: { ':running': { S: 'IN_PROGRESS' } },
          }),
        ),
      ),
    );
    const ended = records[3] as (typeof records)[number];
    expect(await ledger.complete(anEvent(ended.requestId))).toBe(true);

    const failed = await ledger.recordProgress(
      records.map((record) => ({
        requestId: record.requestId,
        progress: { statusCode: 'InProgress', progress: 40 },
      })),
    );

    const stored = await ledger.getMany(records.map((record) => record.requestId));
    expect(stored.filter((r) => r.cloudProgress?.progress === 40)).toHaveLength(100);
    expect(stored[3]).toMatchObject({ status: 'SUCCEEDED' });
    expect(stored[3]?.cloudProgress).toBeUndefined();
    expect(failed).toEqual([]);
  });

  it('completes once, never from SUBMITTING by default, and sets the TTL from the retention', async () => {
    const record = await begin();
    expect(await ledger.complete(anEvent(record.requestId))).toBe(true);
    expect(await ledger.complete(anEvent(record.requestId, 'Failed'))).toBe(false);

    const { Item } = await dynamodb.send(
      new GetItemCommand({ TableName: table, Key: { requestId: { S: record.requestId } } }),
    );
    expect(Number(Item?.expiresAt?.N)).toBe(now.getTime() / 1000 + 7 * 86_400);
  });

  it('lists open and unpublished items over every shard, and one it cannot read as unreadable', async () => {
    const records = await Promise.all(Array.from({ length: 40 }, () => begin()));
    const published = records[0] as (typeof records)[number];
    await ledger.complete(anEvent(published.requestId));
    await ledger.markPublished(published.requestId, now);
    await dynamodb.send(
      new PutItemCommand({
        TableName: table,
        Item: {
          requestId: { S: 'req-broken' },
          action: { S: 'detach-instances' },
          status: { S: 'NOT_A_STATUS' },
          pendingShard: { S: pendingShardOf('req-broken') },
        },
      }),
    );

    const items = await pending();

    expect(new Set(records.map((r) => pendingShardOf(r.requestId))).size).toBeGreaterThan(1);
    expect(pendingShardOf('x')).toMatch(new RegExp(`^P#([0-9]|1[0-${PENDING_SHARDS - 11}])$`));
    const ids = items.map(idOf);
    expect(ids).not.toContain(published.requestId);
    for (const record of records.slice(1)) expect(ids).toContain(record.requestId);
    expect(items.find((item) => idOf(item) === 'req-broken')).toMatchObject({
      kind: 'unreadable',
      action: 'detach-instances',
    });
  });

  it('still lists what the first release wrote to its single pending partition (P)', async () => {
    const record = await begin();
    await dynamodb.send(
      new PutItemCommand({
        TableName: table,
        Item: {
          requestId: { S: `${record.requestId}-old` },
          action: { S: 'detach-instances' },
          status: { S: 'QUEUED' },
          attempts: { N: '0' },
          createdAt: { S: now.toISOString() },
          updatedAt: { S: now.toISOString() },
          pendingShard: { S: 'P' },
        },
      }),
    );

    expect((await pending()).map(idOf)).toContain(`${record.requestId}-old`);
  });

  it('lists from a cursor only what the listing that gave it had not handed out; the poller keeps one', async () => {
    const ownTable = uniqueId('ledger-cursor');
    await createLedgerTable(stack.endpoints.dynamodb, ownTable);
    const own = new DynamoDbLedger(dynamodb, ownTable, { pendingPageSize: 2 });
    const all = new Set<string>();
    for (let i = 0; i < 40; i++) {
      const request = aRequest();
      await own.begin(
        { requestId: request.requestId, action: 'detach-instances', request, clientToken: request.requestId },
        now,
      );
      all.add(request.requestId);
    }
    const first = own.listPending();
    const handedOut: string[] = [];
    for await (const item of first) {
      handedOut.push(idOf(item));
      if (handedOut.length === 9) break;
    }
    const cursor = first.resumeFrom();

    const rest = own.listPending(cursor);
    const resumed: string[] = [];
    for await (const item of rest) resumed.push(idOf(item));

    // Nothing is missed; only the page the first listing stopped in is read again (pages of 2: the 9th item and
    // at most one before it).
    expect(new Set([...handedOut, ...resumed])).toEqual(all);
    expect(resumed.length).toBeLessThanOrEqual(all.size - 7);
    expect(rest.resumeFrom()).toBeUndefined();
    expect(await own.loadPollCursor()).toBeUndefined();
    await own.savePollCursor(cursor);
    expect(await own.loadPollCursor()).toEqual(cursor);
    await own.savePollCursor(undefined);
    expect(await own.loadPollCursor()).toBeUndefined();
    // One another release wrote, naming a shard this one does not know, is not followed.
    await own.savePollCursor({ 'Q#99': null });
    expect(await own.loadPollCursor()).toBeUndefined();
    // Nor one whose start key is not a key of that shard of the index (a query would refuse it every time).
    await own.savePollCursor({ 'P#1': { pendingShard: 'P#2', requestId: 'r' } });
    expect(await own.loadPollCursor()).toBeUndefined();
    await own.savePollCursor({ 'P#1': { pendingShard: 'P#1', requestId: 'r', extra: 1 } });
    expect(await own.loadPollCursor()).toBeUndefined();
  });

  it('counts each event id once however often the bus delivers it', async () => {
    const record = await begin();
    const event = anEvent(record.requestId);
    await ledger.complete(event);

    const first = await ledger.recordEventDelivery(record.requestId, event.eventId, 'Succeeded', now);
    const again = await ledger.recordEventDelivery(record.requestId, event.eventId, 'Succeeded', now);

    expect([first, again]).toEqual(['first', 'duplicate']);
    expect((await ledger.get(record.requestId))?.deliveredEvents).toBe(1);
  });

  it('reads several records in the order asked, whatever order BatchGetItem answers in', async () => {
    const records = await Promise.all(Array.from({ length: 30 }, () => begin()));
    const ids = records.map((r) => r.requestId).reverse();

    expect((await ledger.getMany([...ids, 'req-not-there'])).map((r) => r.requestId)).toEqual(ids);
  });

  it('lists the requests waiting in a group, oldest first', async () => {
    const group = uniqueId('asg');
    const a = aRequest(group);
    const b = aRequest(group);
    await ledger.begin(
      { requestId: b.requestId, action: 'detach-instances', request: b, clientToken: 'b' },
      later(10),
    );
    await ledger.begin(
      { requestId: a.requestId, action: 'detach-instances', request: a, clientToken: 'a' },
      now,
    );

    const waiting = await ledger.listWaiting(spelledGroupKey(a), 10);

    expect(waiting.map((r) => r.requestId)).toEqual([a.requestId, b.requestId]);
  });
});
