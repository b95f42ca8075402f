import { DynamoDBClient, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { describe, expect, inject, it } from 'vitest';
import type { CompletionEvent, DetachInstancesRequest } from '../shared/contracts/index.ts';
import { dispatchGroup, groupKeyOf } from '../shared/detach/dispatch.ts';
import { acceptRequest } from '../shared/detach/intake.ts';
import { pollActivities } from '../shared/detach/poll.ts';
import { pollRepeatedly } from '../shared/detach/poll-loop.ts';
import { newOperation, submitRequest } from '../shared/detach/submit.ts';
import { pendingShardOf } from '../shared/ledger/dynamodb-ledger.ts';
import { aDetachRequest, aScalingGroup, startOutsideActivity, uniqueId } from '../support/emulator-admin.ts';
import { CRASH_AFTER, CrashableProcess, runUntilCrash } from './support/crashable-process.ts';
import { aDomain } from './support/domain.ts';

/**
 * One test per defect of issue #9 that the crash-point, race and model tests do not already pin down, each on the
 * real domain over DynamoDB Local and the cloud emulator.
 */
const stack = inject('stack');
const delivery = (body: unknown) => ({ body, messageId: uniqueId('m'), receiveCount: 1 });

describe('issue #9 defects', () => {
  it.concurrent('1: webhook requests for a group busy with an activity are not lost: each ends', async () => {
    const domain = await aDomain();
    const group = await aScalingGroup(domain.admin, { activityDurationMs: 1_500 });
    await startOutsideActivity(stack.endpoints.emulator, group);
    // The queue is never read here: only the ledger record (the same one the queue function writes) carries them.
    const intake = { ...domain.deps, queue: { enqueue: async () => {} } };
    const requests = [0, 1].map((i) => aDetachRequest(group, { instanceIds: [group.instanceIds[i]] }));

    for (const request of requests) await acceptRequest(intake, 'detach-instances', request, uniqueId('src'));
    await new Promise((resolve) => setTimeout(resolve, 1_600));
    const records = await domain.settle(requests.map((r) => r.requestId));

    expect(records.map((r) => r.status)).toEqual(['SUCCEEDED', 'SUCCEEDED']);
  });

  it.concurrent('2: a group is free as soon as its activity ends, even a Rejected one ending at once', async () => {
    const domain = await aDomain();
    const group = await aScalingGroup(domain.admin, {
      activityDurationMs: 0,
      activityOutcomes: [{ status: 'Rejected', message: 'rejected by the cloud' }],
    });
    const first = aDetachRequest(group, { instanceIds: [group.instanceIds[0]], preflight: false });
    const second = aDetachRequest(group, { instanceIds: [group.instanceIds[1]], preflight: false });

    await submitRequest(domain.deps, 'detach-instances', delivery(first));
    await submitRequest(domain.deps, 'detach-instances', delivery(second));
    // Passes until the one that sees the first activity end.
    for (let pass = 0; pass < 20 && (await domain.ledger.get(first.requestId))?.status !== 'FAILED'; pass++) {
      await pollActivities(domain.deps);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }

    const [a, b] = await domain.ledger.getMany([first.requestId, second.requestId]);
    expect(a?.status).toBe('FAILED');
    // Sent in the same pass that saw the first activity end, not an hour later.
    expect(['IN_PROGRESS', 'SUCCEEDED']).toContain(b?.status);
  });

  it.concurrent('2: a request whose call is in flight is never timed out as if it were still waiting', async () => {
    const domain = await aDomain({ timeoutMs: 5_000 });
    const group = await aScalingGroup(domain.admin, { activityDurationMs: 50 });
    const request = aDetachRequest(group, { preflight: false });
    const dying = new CrashableProcess('dying', { crashAfter: CRASH_AFTER['dispatch.after-intent'] });

    await runUntilCrash(dying.died, () =>
      submitRequest(dying.ports(domain.deps), 'detach-instances', delivery(request)),
    );
    domain.advance(10_000);
    const [record] = await domain.settle([request.requestId]);

    expect(record?.status).toBe('SUCCEEDED');
  });

  it.concurrent('2: an intent that cannot be resolved within the operation timeout ends its requests TimedOut and frees the group', async () => {
    const domain = await aDomain();
    const group = await aScalingGroup(domain.admin, { activityDurationMs: 50 });
    const request = aDetachRequest(group, { preflight: false });
    const dying = new CrashableProcess('dying', { crashAfter: CRASH_AFTER['dispatch.after-intent'] });
    await runUntilCrash(dying.died, () =>
      submitRequest(dying.ports(domain.deps), 'detach-instances', delivery(request)),
    );

    domain.advance(domain.deps.activityHoldMs + domain.deps.settleMs + 1_000);
    await dispatchGroup(domain.deps, groupKeyOf(request as DetachInstancesRequest));

    expect((await domain.ledger.get(request.requestId))?.status).toBe('TIMED_OUT');
    expect(await domain.groupItem(groupKeyOf(request as DetachInstancesRequest))).toMatchObject({
      intent: undefined,
    });
    expect(
      await domain.admin.calls({ action: 'DetachInstances', scalingGroupId: group.scalingGroupId }),
    ).toEqual([]);
  });

  it.concurrent('7: one waiting item the contract cannot read ends Failed (LedgerRecordUnreadable); the others go on', async () => {
    const domain = await aDomain();
    const group = await aScalingGroup(domain.admin, { activityDurationMs: 50 });
    const healthy = aDetachRequest(group, { preflight: false });
    const dynamodb = new DynamoDBClient({ ...stack.aws, endpoint: stack.endpoints.dynamodb });
    const broken = uniqueId('req-broken');
    await dynamodb.send(
      new PutItemCommand({
        TableName: domain.tableName,
        Item: {
          requestId: { S: broken },
          action: { S: 'detach-instances' },
          // Waiting, so no call of it was ever made: Failed is true. (A status we do not know ends TimedOut once
          // the operation timeout passed: shared/detach/unreadable.ts.)
          status: { S: 'QUEUED' },
          createdAt: { S: new Date().toISOString() },
          pendingShard: { S: pendingShardOf(broken) },
        },
      }),
    );

    await submitRequest(domain.deps, 'detach-instances', delivery(healthy));
    const [record] = await domain.settle([healthy.requestId]);

    expect(record?.status).toBe('SUCCEEDED');
    const unreadable = domain.publisher.events.filter((e) => e.requestId === broken);
    expect(unreadable.map((e) => [e.status, e.error?.code])).toEqual([['Failed', 'LedgerRecordUnreadable']]);
    const pending: string[] = [];
    for await (const item of domain.ledger.listPending())
      pending.push(item.kind === 'record' ? item.record.requestId : item.requestId);
    expect(pending).not.toContain(broken);
  });

  it.concurrent('7: a failure on one item (its publish) defers that item alone, which is published later', async () => {
    const domain = await aDomain();
    const group = await aScalingGroup(domain.admin, { activityDurationMs: 50 });
    const [unlucky, lucky] = [0, 1].map((i) =>
      aDetachRequest(group, { instanceIds: [group.instanceIds[i]], preflight: false }),
    ) as [DetachInstancesRequest, DetachInstancesRequest];
    const publish = domain.publisher.publish.bind(domain.publisher);
    let failures = 1;
    domain.publisher.publish = async (event: CompletionEvent) => {
      if (event.requestId === unlucky.requestId && failures-- > 0) throw new Error('bus unavailable');
      await publish(event);
    };
    for (const request of [unlucky, lucky]) {
      await domain.ledger.begin(newOperation('detach-instances', request), domain.clock.now());
    }
    await dispatchGroup(domain.deps, groupKeyOf(unlucky));

    let failed: string[] = [];
    for (let pass = 0; pass < 10 && failed.length === 0; pass++) {
      await new Promise((resolve) => setTimeout(resolve, 200));
      failed = (await pollActivities(domain.deps)).failedItems.map((f) => f.requestId);
    }
    const records = await domain.settle([unlucky.requestId, lucky.requestId]);

    expect(failed).toEqual([unlucky.requestId]);
    expect(records.map((r) => r.status)).toEqual(['SUCCEEDED', 'SUCCEEDED']);
    expect(domain.publisher.eventIdsOf(unlucky.requestId).size).toBe(1);
  });

  it.concurrent('8: a preflight read the cloud refuses for good ends the request Failed, not in the DLQ', async () => {
    const domain = await aDomain();
    const group = await aScalingGroup(domain.admin);
    await domain.admin.inject({
      action: 'DescribeScalingInstances',
      scalingGroupId: group.scalingGroupId,
      error: { code: 'Forbidden.RAM', httpStatus: 403, message: 'not allowed' },
    });
    const request = aDetachRequest(group);

    await submitRequest(domain.deps, 'detach-instances', delivery(request));
    const [record] = await domain.ledger.getMany([request.requestId]);

    expect(record?.status).toBe('FAILED');
    expect(record?.event?.error?.code).toBe('Preflight.Forbidden.RAM');
  });

  it.concurrent('9: reconciliation confirms nothing for a group ESS does not list', async () => {
    const domain = await aDomain();
    const operation = {
      action: 'detach-vserver-groups',
      request: {
        requestId: uniqueId('req'),
        provider: 'aliyun',
        region: 'cn-hangzhou',
        scalingGroupId: uniqueId('asg-gone'),
        vServerGroups: [
          { loadBalancerId: 'lb-1', vServerGroupAttributes: [{ vServerGroupId: 'rsp-1', port: 80 }] },
        ],
      },
    } as const;

    const done = await domain.deps.providers.aliyun.reconcile('cn-hangzhou', [operation as never]);

    expect(done.get(operation.request.requestId)).toBe(false);
  });

  it.concurrent('13: a merged call is described once per pass, however many requests share it', async () => {
    const domain = await aDomain();
    const group = await aScalingGroup(domain.admin, { instances: 4, activityDurationMs: 5_000 });
    const requests = group.instanceIds
      .slice(0, 3)
      .map((id) => aDetachRequest(group, { instanceIds: [id], preflight: false }) as DetachInstancesRequest);
    for (const request of requests)
      await domain.ledger.begin(newOperation('detach-instances', request), domain.clock.now());
    await dispatchGroup(domain.deps, groupKeyOf(requests[0] as DetachInstancesRequest));

    const summary = await pollActivities(domain.deps);

    expect(summary.describeCalls).toBe(1);
    expect(summary.open).toBe(3);
  });

  it.concurrent('13: the poll loop keeps passing while requests wait for a busy group, until they end', async () => {
    const domain = await aDomain();
    const group = await aScalingGroup(domain.admin, { activityDurationMs: 1_200 });
    await startOutsideActivity(stack.endpoints.emulator, group);
    const request = aDetachRequest(group);
    await submitRequest(domain.deps, 'detach-instances', delivery(request));

    const passes = await pollRepeatedly(
      { ...domain.deps, retry: { baseSeconds: 1, maxSeconds: 1 } },
      {
        intervalMs: 300,
        deadline: Date.now() + 20_000,
        sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
      },
    );

    expect(passes.length).toBeGreaterThan(2);
    expect((await domain.ledger.get(request.requestId))?.status).toBe('SUCCEEDED');
  });
});
