import { DynamoDBClient, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import { describe, expect, inject, it } from 'vitest';
import { REQUEST_SCHEMAS } from '../shared/contracts/index.ts';
import { acceptRequest } from '../shared/detach/intake.ts';
import { endDeadLetter } from '../shared/detach/rejection.ts';
import { newOperation, submitRequest } from '../shared/detach/submit.ts';
import { DynamoDbLedger } from '../shared/ledger/dynamodb-ledger.ts';
import { aDetachRequest, aScalingGroup, uniqueId } from '../support/emulator-admin.ts';
import { aDomain } from './support/domain.ts';

/**
 * The defects of issue #17 on the way in (4, 11, 13), each on the real domain over DynamoDB Local: a valid
 * request and the rejection of an invalid duplicate, reused request ids, bodies too large to store.
 */
const stack = inject('stack');
const delivery = (body: unknown) => ({ body, messageId: uniqueId('m'), receiveCount: 1 });
const aValidRequest = (requestId = uniqueId('req')) => ({
  requestId,
  provider: 'aliyun' as const,
  region: 'cn-hangzhou',
  scalingGroupId: uniqueId('asg'),
  instanceIds: ['i-a'],
});

/** The Key's request id of a DynamoDB write, as the document client or the plain client sends it. */
function writtenId(input: Record<string, unknown>): string | undefined {
  const key = (input.Key as { requestId?: unknown } | undefined)?.requestId;
  return typeof key === 'string' ? key : (key as { S?: string } | undefined)?.S;
}

/**
 * A ledger over the domain's table whose first write to `requestId` is preceded by `race`: whatever the code
 * under test read before that write, `race` has happened in between when the write reaches DynamoDB.
 */
function ledgerRacedAt(tableName: string, requestId: string, race: () => Promise<void>) {
  const client = new DynamoDBClient({ ...stack.aws, endpoint: stack.endpoints.dynamodb });
  let raced = false;
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const writes = ['UpdateItemCommand', 'PutItemCommand'];
      if (!raced && writes.includes(context.commandName ?? '')) {
        if (writtenId(args.input as Record<string, unknown>) === requestId) {
          raced = true;
          await race();
        }
      }
      return next(args);
    },
    { step: 'build', name: 'raceBeforeWrite' },
  );
  return { ledger: new DynamoDbLedger(client, tableName), raced: () => raced };
}

describe('issue #17 defects on the way in', () => {
  it.concurrent.each(['QUEUED', 'IN_PROGRESS'])(
    '4: an invalid duplicate never overwrites the valid request written between its read and its write (%s)',
    async (validStatus) => {
      const domain = await aDomain();
      const valid = aValidRequest();
      const operation = newOperation('detach-instances', REQUEST_SCHEMAS['detach-instances'].parse(valid));
      const plain = new DynamoDBClient({ ...stack.aws, endpoint: stack.endpoints.dynamodb });
      // The valid request is taken (and, for IN_PROGRESS, acted on) while the invalid one is being rejected.
      const racing = ledgerRacedAt(domain.tableName, valid.requestId, async () => {
        await domain.ledger.begin(operation, domain.clock.now());
        if (validStatus === 'IN_PROGRESS')
          await plain.send(
            new UpdateItemCommand({
              TableName: domain.tableName,
              Key: { requestId: { S: valid.requestId } },
              UpdateExpression: 'SET #status = :status, activityId = :activity',
              ExpressionAttributeNames: { '#status': 'status' },
              ExpressionAttributeValues: { ':status': { S: 'IN_PROGRESS' }, ':activity': { S: 'asa-1' } },
            }),
          );
      });
      const invalid = { ...valid, instanceIds: ['not an id!'] };
      const message = delivery(invalid);

      const outcome = await submitRequest(
        { ...domain.deps, ledger: racing.ledger },
        'detach-instances',
        message,
      );

      expect(racing.raced()).toBe(true);
      const stored = await domain.ledger.get(valid.requestId);
      expect(stored).toMatchObject({ status: validStatus, request: { requestId: valid.requestId } });
      expect(stored?.event).toBeUndefined();
      expect(outcome).toMatchObject({ kind: 'rejected', requestId: `sqs:${message.messageId}` });
      expect(await domain.ledger.get(`sqs:${message.messageId}`)).toMatchObject({ status: 'REJECTED' });
      expect(domain.publisher.events.map((event) => [event.requestId, event.status])).toEqual([
        [`sqs:${message.messageId}`, 'Rejected'],
      ]);
    },
  );

  it.concurrent('4: an invalid request alone is rejected under its own id, and its duplicate adds nothing', async () => {
    const domain = await aDomain();
    const invalid = { ...aValidRequest(), instanceIds: [] };

    const first = await submitRequest(domain.deps, 'detach-instances', delivery(invalid));
    const again = await submitRequest(domain.deps, 'detach-instances', delivery(invalid));

    expect(first).toMatchObject({ kind: 'rejected', requestId: invalid.requestId });
    expect(again).toMatchObject({ kind: 'rejected', requestId: invalid.requestId });
    expect(domain.publisher.events.map((event) => event.requestId)).toEqual([invalid.requestId]);
  });

  describe('11: a reused request id is refused visibly, and the first request is left as it is', () => {
    const variants: [string, (first: ReturnType<typeof aDetachRequest>) => unknown, string][] = [
      ['another instance', (first) => ({ ...first, instanceIds: ['i-other'] }), 'detach-instances'],
      ['another group', (first) => ({ ...first, scalingGroupId: uniqueId('asg') }), 'detach-instances'],
      [
        'another callbackUrl',
        (first) => ({ ...first, callbackUrl: 'https://e.example.com/x' }),
        'detach-instances',
      ],
      ['another action', (first) => first, 'remove-instances'],
    ];

    it.concurrent.each(variants)(
      'queue: %s ends Rejected (RequestIdConflict) under its message id',
      async (_, variant, action) => {
        const domain = await aDomain();
        const group = await aScalingGroup(domain.admin, { activityDurationMs: 60_000 });
        const first = aDetachRequest(group);
        await submitRequest(domain.deps, 'detach-instances', delivery(first));
        const before = await domain.ledger.get(first.requestId);
        const eventsBefore = domain.publisher.events.length;
        const second = delivery(variant(first));

        const outcome = await submitRequest(domain.deps, action as 'detach-instances', second);

        expect(outcome).toEqual({
          kind: 'conflict',
          requestId: first.requestId,
          recordedAs: `sqs:${second.messageId}`,
          heldBy: {
            action: 'detach-instances',
            provider: 'aliyun',
            region: group.region,
            scalingGroupId: group.scalingGroupId,
          },
        });
        expect(await domain.ledger.get(first.requestId)).toEqual(before);
        const conflict = await domain.ledger.get(`sqs:${second.messageId}`);
        expect(conflict).toMatchObject({ status: 'REJECTED', action });
        expect(conflict?.event?.error).toMatchObject({
          code: 'RequestIdConflict',
          issues: [{ path: 'requestId' }],
        });
        expect(conflict?.event?.error?.message).toContain(group.scalingGroupId);
        // The conflict's one event, and none for the first request's id.
        expect(domain.publisher.events.slice(eventsBefore).map((e) => [e.requestId, e.status])).toEqual([
          [`sqs:${second.messageId}`, 'Rejected'],
        ]);
      },
    );

    it.concurrent('webhook: another body is a conflict naming the first action and group; the same one parsed is not', async () => {
      const domain = await aDomain();
      const group = await aScalingGroup(domain.admin, { activityDurationMs: 60_000 });
      const intake = { ...domain.deps, queue: { enqueue: async () => {} } };
      const first = aDetachRequest(group);
      // The same request: keys in another order, a default written out.
      const { requestId, ...rest } = first;
      const same = { preflight: true, ...rest, requestId };

      const accepted = await acceptRequest(intake, 'detach-instances', first, uniqueId('src'));
      const before = await domain.ledger.get(first.requestId);
      const repeated = await acceptRequest(intake, 'detach-instances', same, uniqueId('src'));
      const conflict = await acceptRequest(
        intake,
        'detach-instances',
        { ...first, instanceIds: ['i-2'] },
        uniqueId('src'),
      );

      expect(accepted).toMatchObject({ kind: 'accepted', repeated: false });
      expect(repeated).toMatchObject({ kind: 'accepted', repeated: true });
      expect(conflict).toEqual({
        kind: 'conflict',
        requestId: first.requestId,
        heldBy: {
          action: 'detach-instances',
          provider: 'aliyun',
          region: group.region,
          scalingGroupId: group.scalingGroupId,
        },
      });
      expect(await domain.ledger.get(first.requestId)).toEqual(before);
      expect(domain.publisher.events).toEqual([]);
    });
  });

  it.concurrent('7: a dead letter never ends the request written between its read and its write', async () => {
    const domain = await aDomain();
    const valid = aValidRequest();
    const operation = newOperation('detach-instances', REQUEST_SCHEMAS['detach-instances'].parse(valid));
    const racing = ledgerRacedAt(domain.tableName, valid.requestId, async () => {
      await domain.ledger.begin(operation, domain.clock.now());
    });

    const ended = await endDeadLetter(
      { ...domain.deps, ledger: racing.ledger },
      { action: 'detach-instances', body: valid, messageId: uniqueId('m'), receiveCount: 10 },
    );

    expect(racing.raced()).toBe(true);
    expect(ended).toEqual({ kind: 'on-ledger', requestId: valid.requestId });
    expect(await domain.ledger.get(valid.requestId)).toMatchObject({ status: 'QUEUED' });
    expect(domain.publisher.events).toEqual([]);
  });
});
