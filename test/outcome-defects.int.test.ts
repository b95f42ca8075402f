import { describe, expect, it } from 'vitest';
import type { ActionRequest, CompletionEvent, DetachInstancesRequest } from '../shared/contracts/index.ts';
import { dispatchGroup, groupKeyOf } from '../shared/detach/dispatch.ts';
import { pollActivities } from '../shared/detach/poll.ts';
import type { Ledger, PendingCursor, PendingItem, ScalingProvider } from '../shared/detach/ports.ts';
import { newOperation, submitRequest } from '../shared/detach/submit.ts';
import { DetachError } from '../shared/errors.ts';
import { pendingShardOf } from '../shared/ledger/dynamodb-ledger.ts';
import { aDetachRequest, aScalingGroup, uniqueId } from '../support/emulator-admin.ts';
import { aTencentGroup, aTencentRequest } from '../support/tencent.ts';
import { aDomain, type Domain } from './support/domain.ts';
import {
  activitiesEnded,
  delivery,
  essMembers,
  putRawItem,
  rawStatus,
  SETTLING,
  tencentMembers,
} from './support/ground-truth.ts';

/**
 * One test per defect of issue #17 in the dispatcher, the poller and the providers, on the real domain over
 * DynamoDB Local and the cloud emulator. Every outcome is judged against what the emulator did (its state and
 * its call log), never against the ledger alone.
 */
const THROTTLED = {
  code: 'Throttling.User',
  httpStatus: 400,
  message: 'Request was denied due to user flow control.',
};
const BUSY = { code: 'IncorrectScalingGroupStatus', httpStatus: 400, message: 'The group is in activity.' };

/** `target` with some of its methods replaced; the others are its own, bound to it. */
function overriding<T extends object>(target: T, overrides: Partial<Record<keyof T, unknown>>): T {
  return new Proxy(target, {
    get(object, name) {
      if (name in overrides) return overrides[name as keyof T];
      const value = Reflect.get(object, name, object);
      return typeof value === 'function' ? value.bind(object) : value;
    },
  });
}

/** The domain's providers with one method of one provider failing as told (a fault the emulator cannot make). */
function withFailing(
  domain: Domain,
  provider: 'aliyun' | 'tencent',
  method: keyof ScalingProvider,
  fail: (args: unknown[]) => DetachError | undefined,
) {
  const real = domain.deps.providers[provider];
  const original = (real[method] as (...args: unknown[]) => Promise<unknown>).bind(real);
  const faulty = overriding(real, {
    [method]: (...args: unknown[]) => {
      const error = fail(args);
      return error ? Promise.reject(error) : original(...args);
    },
  });
  return { ...domain.deps, providers: { ...domain.deps.providers, [provider]: faulty } };
}

describe('issue #17: every outcome true', () => {
  it.concurrent(
    '1: two throttled answers, then a connection dropped after ESS acted: Succeeded, not Failed',
    SETTLING,
    async () => {
      const domain = await aDomain({ maxCallAttempts: 3 });
      const group = await aScalingGroup(domain.admin, { activityDurationMs: 200 });
      await domain.admin.inject(
        { action: 'DetachInstances', scalingGroupId: group.scalingGroupId, error: THROTTLED },
        { action: 'DetachInstances', scalingGroupId: group.scalingGroupId, error: THROTTLED },
        { action: 'DetachInstances', scalingGroupId: group.scalingGroupId, drop: 'after' },
      );
      const request = aDetachRequest(group);

      await submitRequest(domain.deps, 'detach-instances', delivery(request));
      const [record] = await domain.settle([request.requestId]);

      expect(await essMembers(domain, group.scalingGroupId)).not.toContain(group.instanceIds[0]);
      expect(record?.status).toBe('SUCCEEDED');
    },
  );

  it.concurrent(
    '1, 8: a busy answer to a same-token repeat is not evidence: the request ends Succeeded, acted once',
    SETTLING,
    async () => {
      const domain = await aDomain({ maxCallAttempts: 3 });
      const group = await aScalingGroup(domain.admin, { activityDurationMs: 1_500 });
      await domain.admin.inject(
        { action: 'DetachInstances', scalingGroupId: group.scalingGroupId, drop: 'after' },
        { action: 'DetachInstances', scalingGroupId: group.scalingGroupId, error: BUSY, times: 2 },
      );
      const request = aDetachRequest(group);

      await submitRequest(domain.deps, 'detach-instances', delivery(request));
      await activitiesEnded(domain, [group.scalingGroupId]);
      const [record] = await domain.settle([request.requestId]);

      const acted = (await domain.admin.state()).aliyun.activities.filter(
        (a) => a.scalingGroupId === group.scalingGroupId,
      );
      expect(acted).toHaveLength(1);
      expect(await essMembers(domain, group.scalingGroupId)).not.toContain(group.instanceIds[0]);
      expect(record?.status).toBe('SUCCEEDED');
    },
  );

  it.concurrent(
    '2: a Tencent recovery never adopts an activity another request of ours owns',
    SETTLING,
    async () => {
      const domain = await aDomain();
      const group = await aTencentGroup(domain.admin, { activityDurationMs: 100 });
      const [instanceId] = group.instanceIds as [string];
      const first = aTencentRequest(group);
      await submitRequest(domain.deps, 'detach-instances', delivery(first));
      const [a] = await domain.settle([first.requestId]);
      expect(a?.status).toBe('SUCCEEDED');
      // The instance is attached back; then a second request's first call never reaches the cloud.
      await domain.admin.add({
        tencent: { instances: [{ instanceId, autoScalingGroupId: group.scalingGroupId }] },
      });
      await domain.admin.inject({
        action: 'DetachInstances',
        scalingGroupId: group.scalingGroupId,
        drop: 'before',
      });
      const second = aTencentRequest(group);

      await submitRequest(domain.deps, 'detach-instances', delivery(second));
      const [b] = await domain.settle([second.requestId]);

      expect(b?.activityId).not.toBe(a?.activityId);
      expect(await tencentMembers(domain, group.scalingGroupId)).not.toContain(instanceId);
      expect(b?.status).toBe('SUCCEEDED');
    },
  );

  it.concurrent('3: a terminal record the contract cannot read, holding an unpublished event, gets that event', async () => {
    const domain = await aDomain();
    const requestId = uniqueId('req');
    const completedAt = new Date(Date.now() - 10 * 60_000).toISOString();
    const stored = {
      version: '1',
      eventId: uniqueId('evt'),
      requestId,
      action: 'detach-instances',
      status: 'Succeeded',
      attempts: 1,
      requestedAt: completedAt,
      completedAt,
    } satisfies CompletionEvent;
    await putRawItem(domain, {
      requestId,
      action: 'detach-instances',
      status: 'SUCCEEDED',
      request: { provider: 'aliyun', written: 'by an earlier release' },
      attempts: 1,
      createdAt: completedAt,
      updatedAt: completedAt,
      event: stored,
      pendingShard: pendingShardOf(requestId),
    });

    await pollActivities(domain.deps);

    expect(domain.publisher.events.filter((e) => e.requestId === requestId).map((e) => e.eventId)).toEqual([
      stored.eventId,
    ]);
  });

  it.concurrent("3: a terminal write applied whose answer was lost is the writer's own on the retry", async () => {
    const domain = await aDomain();
    const group = await aScalingGroup(domain.admin);
    const request = aDetachRequest(group) as DetachInstancesRequest;
    const { record } = await domain.ledger.begin(
      newOperation('detach-instances', request),
      domain.clock.now(),
    );
    const event: CompletionEvent = {
      version: '1',
      eventId: uniqueId('evt'),
      requestId: record.requestId,
      action: 'detach-instances',
      status: 'TimedOut',
      attempts: 0,
      requestedAt: record.createdAt,
      completedAt: new Date().toISOString(),
    };

    const first = await domain.ledger.complete(event, { status: 'QUEUED', intentId: undefined });
    const retried = await domain.ledger.complete(event, { status: 'QUEUED', intentId: undefined });
    const other = await domain.ledger.complete({ ...event, eventId: uniqueId('evt') });

    expect([first, retried, other]).toEqual([true, true, false]);
  });

  it.concurrent('5: a Describe that keeps failing does not keep a request open past its timeout', async () => {
    const domain = await aDomain({ timeoutMs: 5_000 });
    const group = await aScalingGroup(domain.admin, { activityDurationMs: 60_000 });
    const request = aDetachRequest(group);
    await submitRequest(domain.deps, 'detach-instances', delivery(request));
    const failing = withFailing(
      domain,
      'aliyun',
      'describeActivities',
      () => new DetachError('InternalError', 'The request processing has failed.', 'transient'),
    );
    domain.advance(6_000);

    await pollActivities(failing);
    const record = await domain.ledger.get(request.requestId);

    expect(record?.status).toBe('TIMED_OUT');
    expect(await domain.groupItem(groupKeyOf(request as DetachInstancesRequest))).toMatchObject({
      activityId: undefined,
    });
  });

  it.concurrent('5: one activity id the cloud refuses does not hold the others of its Describe batch', async () => {
    const domain = await aDomain();
    const groups = await Promise.all(
      [0, 1, 2].map(() => aScalingGroup(domain.admin, { activityDurationMs: 100 })),
    );
    const requests = groups.map((group) => aDetachRequest(group));
    for (const request of requests) await submitRequest(domain.deps, 'detach-instances', delivery(request));
    const bad = await domain.ledger.get((requests[0] as { requestId: string }).requestId);
    const failing = withFailing(domain, 'aliyun', 'describeActivities', ([, ids]) =>
      (ids as string[]).includes(bad?.activityId as string)
        ? new DetachError('InvalidParameter', 'The specified ScalingActivityId is not valid.', 'fatal')
        : undefined,
    );
    await activitiesEnded(
      domain,
      groups.map((group) => group.scalingGroupId),
    );

    await pollActivities(failing);
    const records = await domain.ledger.getMany(requests.map((r) => r.requestId));

    expect(records.map((r) => r.status)).toEqual(['IN_PROGRESS', 'SUCCEEDED', 'SUCCEEDED']);
  });

  it.concurrent('5: a reconciliation that keeps failing ends the request TimedOut at its timeout', async () => {
    const domain = await aDomain({ timeoutMs: 5_000 });
    const group = await aScalingGroup(domain.admin, {
      vServerGroups: [{ loadBalancerId: 'lb-1', vServerGroupId: 'rsp-1', port: 80 }],
    });
    const request = {
      requestId: uniqueId('req'),
      provider: 'aliyun',
      region: group.region,
      scalingGroupId: group.scalingGroupId,
      vServerGroups: [
        { loadBalancerId: 'lb-1', vServerGroupAttributes: [{ vServerGroupId: 'rsp-1', port: 80 }] },
      ],
    };
    await submitRequest(domain.deps, 'detach-vserver-groups', delivery(request));
    const submitted = await domain.ledger.get(request.requestId);
    expect(submitted?.status, JSON.stringify(submitted?.lastError)).toBe('SUBMITTED');
    const failing = withFailing(
      domain,
      'aliyun',
      'reconcile',
      () => new DetachError('Throttling.User', 'Request was denied due to user flow control.', 'throttled'),
    );
    domain.advance(6_000);

    await pollActivities(failing);

    expect((await domain.ledger.get(request.requestId))?.status).toBe('TIMED_OUT');
  });

  it.concurrent("5: one request's read that keeps failing does not hold the rest of its region's reconciliation", async () => {
    const domain = await aDomain();
    const [broken, healthy] = await Promise.all([aTencentGroup(domain.admin), aTencentGroup(domain.admin)]);
    const operations = [broken, healthy].map(
      (group) =>
        ({
          action: 'detach-instances',
          request: aTencentRequest(group, { apiVersion: 'v2' }),
        }) as ActionRequest,
    );
    await domain.admin.inject({
      action: 'DescribeScalingInstance',
      scalingGroupId: broken.scalingGroupId,
      error: { code: 'InternalError', httpStatus: 6000 },
      times: 100,
    });

    const done = await domain.deps.providers.tencent.reconcile(broken.region, operations);

    expect([...done.entries()]).toEqual([[operations[1]?.request.requestId, false]]);
  });

  it.concurrent('6: API 3.0 requests are confirmed through API 3.0, v2 requests through v2', async () => {
    const domain = await aDomain();
    const group = await aTencentGroup(domain.admin);
    const api3 = { action: 'detach-instances', request: aTencentRequest(group) } as ActionRequest;
    const v2 = {
      action: 'detach-instances',
      request: aTencentRequest(group, { apiVersion: 'v2' }),
    } as ActionRequest;
    // Every call that names the group or its instances, whatever the API puts them in.
    const names = [group.scalingGroupId, ...group.instanceIds];
    const callsOf = async () =>
      (await domain.admin.calls())
        .filter((call) => names.some((name) => JSON.stringify(call.params).includes(name)))
        .map((call) => call.action);

    await domain.deps.providers.tencent.reconcile(group.region, [api3]);
    const afterApi3 = await callsOf();
    await domain.deps.providers.tencent.reconcile(group.region, [v2]);
    const afterV2 = (await callsOf()).slice(afterApi3.length);

    expect(afterApi3).not.toContain('DescribeScalingInstance');
    expect(afterApi3).toEqual(['DescribeAutoScalingGroups', 'DescribeAutoScalingInstances']);
    expect(afterV2).toEqual(['DescribeScalingInstance']);
  });

  it.concurrent('9: an ESS detach confirmed by reconciliation reads the instances, not only the group', async () => {
    const domain = await aDomain();
    const group = await aScalingGroup(domain.admin);
    const operation = { action: 'detach-instances', request: aDetachRequest(group) } as ActionRequest;

    const done = await domain.deps.providers.aliyun.reconcile(group.region, [operation]);

    expect(done.get(operation.request.requestId)).toBe(false);
  });

  it.concurrent('10: a record the contract cannot read is not failed while a call of it may be running', async () => {
    const domain = await aDomain({ timeoutMs: 5_000 });
    const requestId = uniqueId('req');
    const at = new Date().toISOString();
    await putRawItem(domain, {
      requestId,
      action: 'detach-instances',
      status: 'IN_PROGRESS',
      request: { provider: 'aliyun', written: 'by an earlier release' },
      activityId: 'asa-unreadable',
      attempts: 1,
      createdAt: at,
      updatedAt: at,
      pendingShard: pendingShardOf(requestId),
    });

    await pollActivities(domain.deps);
    const before = await rawStatus(domain, requestId);
    domain.advance(6_000);
    await pollActivities(domain.deps);
    const after = await rawStatus(domain, requestId);

    expect([before, after]).toEqual(['IN_PROGRESS', 'TIMED_OUT']);
  });

  it.concurrent(
    "12: a merged call's Warning is judged per request, from each one's own instances",
    SETTLING,
    async () => {
      const domain = await aDomain();
      const group = await aScalingGroup(domain.admin, {
        activityDurationMs: 100,
        activityOutcomes: [{ status: 'Warning', message: 'one instance could not be detached' }],
      });
      const requests = [0, 1].map(
        (i) => aDetachRequest(group, { instanceIds: [group.instanceIds[i]] }) as DetachInstancesRequest,
      );
      for (const request of requests) {
        await domain.ledger.begin(newOperation('detach-instances', request), domain.clock.now());
        domain.advance(1);
      }
      const sent = await dispatchGroup(domain.deps, groupKeyOf(requests[0] as DetachInstancesRequest));
      expect(sent).toMatchObject({ kind: 'sent', requestIds: requests.map((r) => r.requestId) });

      await activitiesEnded(domain, [group.scalingGroupId]);
      const records = await domain.settle(requests.map((r) => r.requestId));

      const members = await essMembers(domain, group.scalingGroupId);
      expect(members).toContain(group.instanceIds[1]);
      expect(members).not.toContain(group.instanceIds[0]);
      expect(records.map((r) => r.status)).toEqual(['SUCCEEDED', 'FAILED']);
    },
  );

  it.concurrent(
    '14: a poller timeout decided on a waiting request loses to the dispatcher that took it',
    SETTLING,
    async () => {
      const domain = await aDomain({ timeoutMs: 5_000 });
      const group = await aScalingGroup(domain.admin, { activityDurationMs: 100 });
      const request = aDetachRequest(group) as DetachInstancesRequest;
      await domain.ledger.begin(newOperation('detach-instances', request), domain.clock.now());
      domain.advance(6_000);
      // The pass reads the request QUEUED; before it decides, a dispatcher takes it and the cloud acts.
      const ledger = domain.ledger;
      const racing: Ledger = overriding(ledger, {
        listPending: (from?: PendingCursor) => {
          const listing = ledger.listPending(from);
          return {
            resumeFrom: () => listing.resumeFrom(),
            async *[Symbol.asyncIterator]() {
              for await (const item of listing) {
                if (item.kind === 'record' && item.record.requestId === request.requestId)
                  await dispatchGroup(domain.deps, groupKeyOf(request));
                yield item as PendingItem;
              }
            },
          };
        },
      });

      await pollActivities({ ...domain.deps, ledger: racing });
      await activitiesEnded(domain, [group.scalingGroupId]);
      const [record] = await domain.settle([request.requestId]);

      expect(await essMembers(domain, group.scalingGroupId)).not.toContain(group.instanceIds[0]);
      expect(record?.status).toBe('SUCCEEDED');
    },
  );
});
