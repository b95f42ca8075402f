import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { createLedgerTable } from '../local/services.ts';
import type { CompletionEvent, DetachInstancesRequest } from '../shared/contracts/index.ts';
import { DetachError } from '../shared/errors.ts';
import { DynamoDbLedger } from '../shared/ledger/dynamodb-ledger.ts';
import { uniqueId } from './support/emulator-admin.ts';

const stack = inject('stack');
let ledger: DynamoDbLedger;

beforeAll(async () => {
  // A table of its own, so that listPending sees only this file's records.
  const table = uniqueId('ledger-test');
  await createLedgerTable(stack.endpoints.dynamodb, table);
  ledger = new DynamoDbLedger(
    new DynamoDBClient({ ...stack.aws, endpoint: stack.endpoints.dynamodb }),
    table,
  );
});

const now = new Date('2026-01-01T00:00:00.000Z');
const aRequest = (): DetachInstancesRequest => ({
  requestId: uniqueId('req'),
  provider: 'aliyun',
  region: 'cn-hangzhou',
  scalingGroupId: 'asg-1',
  instanceIds: ['i-1'],
  preflight: true,
  dryRun: false,
});
const begin = (request = aRequest()) =>
  ledger.begin(
    { requestId: request.requestId, action: 'detach-instances', request, clientToken: request.requestId },
    now,
  );
const anEvent = (requestId: string, status: CompletionEvent['status'] = 'Succeeded'): CompletionEvent => ({
  version: '1',
  requestId,
  action: 'detach-instances',
  status,
  attempts: 1,
  requestedAt: now.toISOString(),
  completedAt: now.toISOString(),
});

async function pendingIds(): Promise<string[]> {
  const ids: string[] = [];
  for await (const record of ledger.listPending()) ids.push(record.requestId);
  return ids;
}

describe('DynamoDbLedger on DynamoDB Local', () => {
  it('begins once: a second begin returns the stored record unchanged', async () => {
    const request = aRequest();
    const first = await begin(request);
    await ledger.markSubmitted(request.requestId, { activityId: 'asa-1' }, now);

    const second = await begin(request);

    expect(first.status).toBe('QUEUED');
    expect(second).toMatchObject({ status: 'IN_PROGRESS', activityId: 'asa-1', attempts: 1, request });
  });

  it('moves QUEUED to IN_PROGRESS only once', async () => {
    const { requestId } = await begin();

    const first = await ledger.markSubmitted(requestId, { activityId: 'asa-1', cloudRequestId: 'cr-1' }, now);
    const second = await ledger.markSubmitted(requestId, { activityId: 'asa-2' }, now);

    expect([first, second]).toEqual([true, false]);
    expect(await ledger.get(requestId)).toMatchObject({
      activityId: 'asa-1',
      cloudRequestId: 'cr-1',
      submittedAt: now.toISOString(),
    });
  });

  it('records failed attempts with the last error', async () => {
    const { requestId } = await begin();

    await ledger.recordAttemptFailure(
      requestId,
      new DetachError('Throttling', 'slow down', 'throttled'),
      'token~1',
      now,
    );
    await ledger.recordAttemptFailure(
      requestId,
      new DetachError('InternalError', 'oops', 'transient'),
      'token~1',
      now,
    );

    expect(await ledger.get(requestId)).toMatchObject({
      status: 'QUEUED',
      attempts: 2,
      clientToken: 'token~1',
      lastError: { code: 'InternalError', kind: 'transient', message: 'oops' },
    });
  });

  it('completes once: the second writer loses', async () => {
    const { requestId } = await begin();
    await ledger.markSubmitted(requestId, { activityId: 'asa-1' }, now);

    const results = await Promise.all([
      ledger.complete(anEvent(requestId)),
      ledger.complete(anEvent(requestId, 'Failed')),
    ]);

    expect(results.filter(Boolean)).toHaveLength(1);
    expect(['SUCCEEDED', 'FAILED']).toContain((await ledger.get(requestId))?.status);
  });

  it('creates the record of a rejected message that had none', async () => {
    const requestId = `sqs:${uniqueId('m')}`;

    const won = await ledger.complete({
      ...anEvent(requestId, 'Rejected'),
      error: { code: 'InvalidRequest', message: 'bad' },
    });

    expect(won).toBe(true);
    expect(await ledger.get(requestId)).toMatchObject({
      status: 'REJECTED',
      action: 'detach-instances',
      createdAt: now.toISOString(),
    });
  });

  it('lists in-progress and terminal-unpublished records until the event is marked published', async () => {
    const inProgress = await begin();
    await ledger.markSubmitted(inProgress.requestId, { activityId: 'asa-1' }, now);
    const finished = await begin();
    await ledger.markSubmitted(finished.requestId, { activityId: 'asa-2' }, now);
    await ledger.complete(anEvent(finished.requestId));
    const queued = await begin();

    const before = await pendingIds();
    await ledger.markPublished(finished.requestId, now);
    const after = await pendingIds();

    expect(before).toEqual(expect.arrayContaining([inProgress.requestId, finished.requestId]));
    expect(before).not.toContain(queued.requestId);
    expect(after).toContain(inProgress.requestId);
    expect(after).not.toContain(finished.requestId);
  });

  it('counts deliveries of the completion event', async () => {
    const { requestId } = await begin();

    await ledger.recordEventDelivery(requestId, 'Succeeded', now);
    await ledger.recordEventDelivery(requestId, 'Succeeded', now);

    expect(await ledger.get(requestId)).toMatchObject({
      deliveredEvents: 2,
      lastDeliveredStatus: 'Succeeded',
    });
  });
});

describe('DynamoDbLedger group lock', () => {
  const group = () => `aliyun#cn-hangzhou#${uniqueId('asg')}`;

  it('one holder at a time; released with a backoff, it is not taken before the backoff ends', async () => {
    const key = group();
    const first = await ledger.acquireGroup(key, 'a', now, 30_000);
    const second = await ledger.acquireGroup(key, 'b', now, 30_000);
    await ledger.releaseGroup(key, 'a', { batch: null, retryAfter: now.getTime() + 5_000 });
    const duringBackoff = await ledger.acquireGroup(key, 'b', new Date(now.getTime() + 1_000), 30_000);
    const after = await ledger.acquireGroup(key, 'b', new Date(now.getTime() + 5_000), 30_000);

    expect([first, second, duringBackoff, after]).toEqual([
      { groupKey: key },
      undefined,
      undefined,
      { groupKey: key },
    ]);
  });

  it('an activity holds the group until it is finished; a kept batch comes back with the lock', async () => {
    const key = group();
    const batch = { requestIds: ['r-1'], instanceIds: ['i-1'], clientToken: 'r-1' };
    await ledger.acquireGroup(key, 'a', now, 30_000);
    await ledger.releaseGroup(key, 'a', { batch });
    const withBatch = await ledger.acquireGroup(key, 'b', now, 30_000);
    await ledger.releaseGroup(key, 'b', {
      batch: null,
      activityId: 'asa-1',
      activityUntil: now.getTime() + 60_000,
    });
    const whileRunning = await ledger.acquireGroup(key, 'c', now, 30_000);
    await ledger.finishGroupActivity(key, 'asa-other');
    const wrongActivity = await ledger.acquireGroup(key, 'c', now, 30_000);
    await ledger.finishGroupActivity(key, 'asa-1');
    const finished = await ledger.acquireGroup(key, 'c', now, 30_000);

    expect(withBatch).toEqual({ groupKey: key, batch });
    expect([whileRunning, wrongActivity]).toEqual([undefined, undefined]);
    expect(finished).toEqual({ groupKey: key });
  });

  it('lists the requests waiting in a group, oldest first', async () => {
    const key = group();
    const make = (id: string, at: string) =>
      ledger.begin(
        {
          requestId: id,
          action: 'detach-instances',
          request: { ...aRequest(), requestId: id },
          clientToken: id,
          waitKey: key,
        },
        new Date(at),
      );
    const [a, b] = [uniqueId('w'), uniqueId('w')];
    await make(b, '2026-01-01T00:00:02.000Z');
    await make(a, '2026-01-01T00:00:01.000Z');

    expect((await ledger.listWaiting(key, 10)).map((r) => r.requestId)).toEqual([a, b]);
    await ledger.markSubmitted(a, { activityId: 'asa-1' }, now);
    expect((await ledger.listWaiting(key, 10)).map((r) => r.requestId)).toEqual([b]);
  });
});
