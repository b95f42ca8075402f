import { describe, expect, inject, it } from 'vitest';
import type { DetachRequest } from '../shared/contracts/index.ts';
import { dispatchGroup, groupKeyOf } from '../shared/detach/dispatch.ts';
import { pollActivities } from '../shared/detach/poll.ts';
import { submitRequest } from '../shared/detach/submit.ts';
import { DetachError } from '../shared/errors.ts';
import { pendingShardOf } from '../shared/ledger/dynamodb-ledger.ts';
import { createHttpAgent } from '../shared/providers/http.ts';
import { TencentAsClient } from '../shared/providers/tencent/as-client.ts';
import { TencentProvider } from '../shared/providers/tencent/tencent-provider.ts';
import { TencentV2Client } from '../shared/providers/tencent/v2-client.ts';
import { aDetachRequest, aScalingGroup, uniqueId } from '../support/emulator-admin.ts';
import { aTencentGroup, aTencentRequest, TENCENT_KEY } from '../support/tencent.ts';
import { aDomain } from './support/domain.ts';
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
 * Review of the change since 1fd4ba4: sequences in which the service emits an outcome the cloud contradicts.
 * Each test runs on the real domain (DynamoDB Local, the cloud emulator) and judges by the emulator's state and
 * call log. A test here that FAILS on the current code demonstrates a lie; the comment above it says which.
 */
const stack = inject('stack');

describe('review: outcomes the cloud contradicts', () => {
  /*
   * LIE (Succeeded while the instance is still in the group). The claim that keeps a Tencent recovery off
   * another request's activity (`activity|group|id`) is written only when an intent is accepted WITH an activity
   * id. A request whose answer was lost and that was then confirmed by reading the group (`goneFromGroup` in
   * make-call.ts: accepted, SUBMITTED, no activity id) leaves its activity unclaimed. A later request on the same
   * instance (attached back) whose first call never reaches the cloud then adopts that activity in its repeat
   * (`findActivity` skips only claimed activities) and ends Succeeded although nothing of it acted.
   */
  it.concurrent(
    'Tencent: an activity of ours confirmed by reading the group is unclaimed, and a later request adopts it',
    SETTLING,
    async () => {
      const domain = await aDomain();
      // Activities end at once: the read right after the dropped answer sees the instance gone.
      const group = await aTencentGroup(domain.admin, { activityDurationMs: 0 });
      const [instanceId] = group.instanceIds as [string];
      await domain.admin.inject({
        action: 'DetachInstances',
        scalingGroupId: group.scalingGroupId,
        drop: 'after',
      });
      const first = aTencentRequest(group);
      await submitRequest(domain.deps, 'detach-instances', delivery(first));
      const [a] = await domain.settle([first.requestId]);
      expect(a?.status).toBe('SUCCEEDED');
      // A's answer was lost and the group read found the instance gone: its activity is looked up and claimed
      // (withStartedActivity), so it is A's, and no later recovery may adopt it.
      expect(a?.activityId).toBeDefined();

      // The instance is attached back; a second request's first call never reaches the cloud.
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

      const members = await tencentMembers(domain, group.scalingGroupId);
      const { tencent } = await domain.admin.state();
      const activities = tencent.activities
        .filter((x) => x.groupId === group.scalingGroupId)
        .map((x) => x.id);
      // Ground truth against the claim: B Succeeded only if the instance left the group.
      expect({
        b: b?.status,
        bActivity: b?.activityId,
        activities,
        instanceInGroup: members.includes(instanceId),
      }).not.toMatchObject({ b: 'SUCCEEDED', instanceInGroup: true });
    },
  );

  /*
   * LIE (Failed although a call acted). `judgeFailedCall` fails a request whose repeat the cloud refused when
   * `gone === false`, i.e. when NOT EVERY instance is gone (`reconcile` answers "all gone" or not): the rule in
   * docs/architecture.md is "refused a repeat while the group still held EVERY instance". Tencent v2 has neither
   * a token nor an activity id: its first call acted (the activity detached one of two instances, the answer was
   * lost); the read after it shows one still there (gone false), the repeat names an instance no longer in the
   * group, v2 refuses it (100005 Incorrect instanceId, fatal), the group still holds the other: Failed.
   */
  it.concurrent(
    'Tencent v2: a first call that took out one of two instances (answer lost) ends Failed after its repeat is refused',
    SETTLING,
    async () => {
      const domain = await aDomain();
      const group = await aTencentGroup(domain.admin, {
        activityDurationMs: 0,
        activityOutcomes: ['PARTIALLY_SUCCESSFUL'],
      });
      const [x, y] = group.instanceIds as [string, string];
      await domain.admin.inject({
        action: 'DetachInstance',
        scalingGroupId: group.scalingGroupId,
        drop: 'after',
      });
      const request = aTencentRequest(group, { apiVersion: 'v2', instanceIds: [x, y] });

      await submitRequest(domain.deps, 'detach-instances', delivery(request));
      const [record] = await domain.settle([request.requestId]);

      const members = await tencentMembers(domain, group.scalingGroupId);
      const { tencent } = await domain.admin.state();
      const acted = tencent.activities.filter((a) => a.groupId === group.scalingGroupId).length;
      // Ground truth: one call acted and took x out; y is still in the group.
      expect({ xInGroup: members.includes(x), yInGroup: members.includes(y), acted }).toEqual({
        xInGroup: false,
        yInGroup: true,
        acted: 1,
      });
      // Failed claims that no call of the request acted: false here.
      expect(record?.status, JSON.stringify(record?.event)).not.toBe('FAILED');
    },
  );

  /*
   * Found by the model test (seed 685636687): a first v2 DetachInstance acted and its answer was lost; its repeat,
   * while the instance was still being detached, got 5100 (40006) "not in service", then classified fatal, and the
   * group still held the instance: Failed, though the first call acted. 40006 is busy now (as API 3.0's
   * ResourceUnavailable.InstanceInOperation): the repeat waits, and the group read then finds the instance gone.
   */
  it.concurrent(
    'Tencent v2: a repeat answered "instance not in service" (40006) while the first call detaches it is busy, not Failed',
    SETTLING,
    async () => {
      const domain = await aDomain();
      const group = await aTencentGroup(domain.admin, { activityDurationMs: 3_000 });
      const [x] = group.instanceIds as [string];
      await domain.admin.inject({
        action: 'DetachInstance',
        scalingGroupId: group.scalingGroupId,
        drop: 'after',
      });
      const request = aTencentRequest(group, { apiVersion: 'v2', instanceIds: [x] });

      await submitRequest(domain.deps, 'detach-instances', delivery(request));
      const [record] = await domain.settle([request.requestId]);

      const members = await tencentMembers(domain, group.scalingGroupId);
      expect(members).not.toContain(x);
      expect(record?.status, JSON.stringify(record?.event)).toBe('SUCCEEDED');
    },
  );

  /*
   * LIE (two terminal outcomes for one request). `unreadableOutcome` ends Failed any unreadable item whose status
   * is not SUBMITTING/SUBMITTED/IN_PROGRESS, terminal statuses included, when it holds no `event` attribute (an
   * earlier release kept its outcome elsewhere). The terminal write (`complete` with `{ status: 'SUCCEEDED' }`,
   * `attribute_not_exists(event)`) then turns a SUCCEEDED record into FAILED and publishes "Failed" for a request
   * the cloud acted on. (With an `event` attribute present the condition saves it; checked separately.)
   */
  it.concurrent('an unreadable SUCCEEDED record without a recognisable event is not turned into FAILED', async () => {
    const domain = await aDomain();
    const requestId = uniqueId('req');
    const at = new Date(Date.now() - 10 * 60_000).toISOString();
    await putRawItem(domain, {
      requestId,
      action: 'detach-instances',
      status: 'SUCCEEDED',
      request: { provider: 'aliyun', written: 'by an earlier release' },
      attempts: 1,
      createdAt: at,
      updatedAt: at,
      completedAt: at,
      // An earlier release kept its outcome under another attribute (no `event` the current code knows).
      outcome: { requestId, status: 'Succeeded', completedAt: at },
      pendingShard: pendingShardOf(requestId),
    });

    await pollActivities(domain.deps);

    const published = domain.publisher.events.filter((e) => e.requestId === requestId).map((e) => e.status);
    expect({ status: await rawStatus(domain, requestId), published }).toEqual({
      status: 'SUCCEEDED',
      published: [],
    });
  });

  /*
   * LIE (Succeeded while the instance is still in the group), through a caller's own `clientToken`. The contract
   * takes a request's `clientToken` and the first call of every request sends it as the ESS ClientToken as is; ESS
   * answers a token it has seen (same parameters) with the FIRST call's result. A producer that keeps its token
   * across two requests for the same instance (a retry under a new request id, after the instance came back)
   * gets the first request's old activity id: the second request follows an activity that ended long ago and
   * ends Succeeded, while nothing of it acted and the instance is in the group. docs/architecture.md: "a token
   * is never reused for a different call" - the service cannot keep that for tokens it takes from callers, and
   * nothing binds a caller's token to one request (the ledger checks request ids, not tokens).
   */
  it.concurrent(
    "ESS: a caller's clientToken reused by a later request gets the first request's activity: Succeeded, instance in the group",
    SETTLING,
    async () => {
      const domain = await aDomain();
      const group = await aScalingGroup(domain.admin, { activityDurationMs: 100 });
      const [instanceId] = group.instanceIds as [string];
      const clientToken = uniqueId('token');
      const first = aDetachRequest(group, { clientToken });
      await submitRequest(domain.deps, 'detach-instances', delivery(first));
      const [a] = await domain.settle([first.requestId]);
      expect(a?.status).toBe('SUCCEEDED');
      await domain.admin.add({
        aliyun: {
          instances: [{ instanceId, scalingGroupId: group.scalingGroupId, creationType: 'AutoCreated' }],
        },
      });
      expect(await essMembers(domain, group.scalingGroupId)).toContain(instanceId);

      const second = aDetachRequest(group, { clientToken });
      await submitRequest(domain.deps, 'detach-instances', delivery(second));
      const [b] = await domain.settle([second.requestId]);

      const members = await essMembers(domain, group.scalingGroupId);
      expect({
        b: b?.status,
        sameActivity: b?.activityId === a?.activityId,
        instanceInGroup: members.includes(instanceId),
      }).not.toMatchObject({ b: 'SUCCEEDED', instanceInGroup: true });
    },
  );

  /*
   * LIE (Failed although a call acted). A Tencent API 3.0 repeat first looks for the activity the unanswered call
   * started (`findActivity`, a DescribeAutoScalingActivities read). A read refused for good (credentials that may
   * detach but not list activities: AuthFailure.UnauthorizedOperation) escapes `submit` as a FATAL error of the
   * call; `judgeFailedCall` then reads the group, finds the instance still there (the first call's activity is
   * still running: the instance is DETACHING, still a member) and fails the request. The activity then succeeds.
   * A refused read inside a recovery is not a refusal of the call: it is no evidence that nothing acted.
   */
  it.concurrent(
    'Tencent: a refused activity read inside a recovery fails a request whose first call is acting',
    SETTLING,
    async () => {
      const domain = await aDomain();
      const group = await aTencentGroup(domain.admin, { activityDurationMs: 4_000 });
      const [instanceId] = group.instanceIds as [string];
      const api = new TencentAsClient({
        credentials: async () => TENCENT_KEY,
        httpAgent: createHttpAgent(),
        endpointOverride: stack.endpoints.emulator,
      });
      // These credentials may detach, but not list a group's activities (a fault the emulator cannot aim at one group).
      const refusingList = new Proxy(api, {
        get(target, name) {
          if (name === 'describeGroupActivities')
            return () =>
              Promise.reject(
                new DetachError(
                  'AuthFailure.UnauthorizedOperation',
                  'The request is not authorized.',
                  'fatal',
                ),
              );
          const value = Reflect.get(target, name, target);
          return typeof value === 'function' ? value.bind(target) : value;
        },
      });
      const deps = {
        ...domain.deps,
        providers: {
          ...domain.deps.providers,
          tencent: new TencentProvider(
            refusingList,
            new TencentV2Client({
              credentials: async () => TENCENT_KEY,
              httpAgent: createHttpAgent(),
              endpointOverride: stack.endpoints.emulator,
            }),
          ),
        },
      };
      await domain.admin.inject({
        action: 'DetachInstances',
        scalingGroupId: group.scalingGroupId,
        drop: 'after',
      });
      const request = aTencentRequest(group) as DetachRequest;

      await submitRequest(deps, 'detach-instances', delivery(request));
      domain.advance(domain.deps.settleMs + 1_000);
      await dispatchGroup(deps, groupKeyOf(request));
      const record = await domain.ledger.get(request.requestId);
      await activitiesEnded(domain, [group.scalingGroupId]);

      const members = await tencentMembers(domain, group.scalingGroupId);
      expect({ status: record?.status, instanceInGroup: members.includes(instanceId) }).not.toEqual({
        status: 'FAILED',
        instanceInGroup: false,
      });
    },
  );
});
