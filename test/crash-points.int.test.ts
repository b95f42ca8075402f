import { describe, expect, it } from 'vitest';
import type { Action, DetachRequest } from '../shared/contracts/index.ts';
import { groupKeyOf } from '../shared/detach/dispatch.ts';
import { acceptRequest } from '../shared/detach/intake.ts';
import { newOperation, submitRequest } from '../shared/detach/submit.ts';
import { aDetachRequest, aScalingGroup, uniqueId } from '../support/emulator-admin.ts';
import { aTencentGroup, aTencentRequest } from '../support/tencent.ts';
import { CRASH_POINTS, type CrashPoint } from './support/crash-points.ts';
import { CRASH_AFTER, CrashableProcess, runUntilCrash } from './support/crashable-process.ts';
import { aDomain, type Domain } from './support/domain.ts';

/**
 * Each named crash point, in each way a request travels: the real code runs against DynamoDB Local and the cloud
 * emulator, and its process dies at the point: every port of the process (ledger, cloud, bus, callbacks, queue)
 * is cut at that instant, so no async chain of it writes on (test/support/crashable-process.ts). Then the
 * recovery runs (the message comes back, the poller passes) and: one terminal state, one distinct event, the
 * cloud acted once, and the group is free.
 *
 * Each point sits right after a port call, so the process dies right after that call took effect, before its
 * answer is seen: no hook in the domain is needed.
 */

interface Flow {
  name: string;
  action: Action;
  /** Points this flow never passes. */
  skips: CrashPoint[];
  arrange(domain: Domain): Promise<{
    request: DetachRequest;
    /** Requests already waiting in the group when `request` arrives: its dispatch merges them into its call. */
    waiting?: DetachRequest[];
    actedOn: (request: DetachRequest) => Promise<number>;
    /** How many requests the first call of the group served. */
    mergedInFirstCall?: () => Promise<number>;
  }>;
  via?: 'webhook';
}

const CALLBACK_URL = 'https://receiver.example/scaling-detach';

const flows: Flow[] = [
  {
    name: 'ESS detach-instances (merged: two requests in one call, ClientToken)',
    action: 'detach-instances',
    skips: ['intake.after-ledger'],
    async arrange(domain) {
      const group = await aScalingGroup(domain.admin, { instances: 3, activityDurationMs: 100 });
      const waiting = aDetachRequest(group, {
        instanceIds: [group.instanceIds[1]],
        callbackUrl: CALLBACK_URL,
      }) as DetachRequest;
      const request = aDetachRequest(group, { callbackUrl: CALLBACK_URL }) as DetachRequest;
      return {
        request,
        waiting: [waiting],
        actedOn: (r) => essActivitiesOn(domain, (r as { instanceIds: string[] }).instanceIds[0] as string),
        mergedInFirstCall: async () =>
          (await domain.admin.state()).aliyun.activities.find(
            (a) => a.scalingGroupId === group.scalingGroupId,
          )?.instanceIds.length ?? 0,
      };
    },
  },
  {
    name: 'Tencent API 3.0 detach-instances (no token: the activity is found)',
    action: 'detach-instances',
    skips: ['intake.after-ledger'],
    async arrange(domain) {
      const group = await aTencentGroup(domain.admin, { instances: 3, activityDurationMs: 100 });
      const request = aTencentRequest(group, { callbackUrl: CALLBACK_URL }) as DetachRequest;
      return { request, actedOn: () => tencentActivitiesOn(domain, group.instanceIds[0] as string) };
    },
  },
  {
    name: 'Tencent v2 DetachInstance (no activity: the group is read)',
    action: 'detach-instances',
    skips: ['intake.after-ledger', 'poll.after-group-freed'],
    async arrange(domain) {
      const group = await aTencentGroup(domain.admin, { instances: 3, activityDurationMs: 20 });
      const request = aTencentRequest(group, {
        apiVersion: 'v2',
        callbackUrl: CALLBACK_URL,
      }) as DetachRequest;
      return { request, actedOn: () => tencentActivitiesOn(domain, group.instanceIds[0] as string) };
    },
  },
  {
    name: 'ESS detach-vserver-groups (no token, no activity)',
    action: 'detach-vserver-groups',
    skips: ['intake.after-ledger', 'poll.after-group-freed'],
    async arrange(domain) {
      const vServerGroupId = uniqueId('rsp');
      const group = await aScalingGroup(domain.admin, {
        vServerGroups: [{ loadBalancerId: 'lb-c', vServerGroupId, port: 80 }],
        activityDurationMs: 20,
      });
      const request = {
        requestId: uniqueId('req'),
        provider: 'aliyun',
        region: group.region,
        scalingGroupId: group.scalingGroupId,
        callbackUrl: CALLBACK_URL,
        vServerGroups: [{ loadBalancerId: 'lb-c', vServerGroupAttributes: [{ vServerGroupId, port: 80 }] }],
      } as DetachRequest;
      const actedOn = async () =>
        (
          await domain.admin.calls({ action: 'DetachVServerGroups', scalingGroupId: group.scalingGroupId })
        ).filter((call) => call.code === undefined).length;
      return { request, actedOn };
    },
  },
  {
    name: 'ESS detach-instances through the webhook',
    action: 'detach-instances',
    via: 'webhook',
    skips: CRASH_POINTS.filter((point) => point !== 'intake.after-ledger'),
    async arrange(domain) {
      const group = await aScalingGroup(domain.admin, { instances: 3, activityDurationMs: 100 });
      const request = aDetachRequest(group) as DetachRequest;
      return { request, actedOn: () => essActivitiesOn(domain, group.instanceIds[0] as string) };
    },
  },
];

async function essActivitiesOn(domain: Domain, instanceId: string): Promise<number> {
  return (await domain.admin.state()).aliyun.activities.filter((a) => a.instanceIds.includes(instanceId))
    .length;
}

async function tencentActivitiesOn(domain: Domain, instanceId: string): Promise<number> {
  const { tencent } = (await domain.admin.state()) as unknown as {
    tencent: { activities: { instanceIds: string[] }[] };
  };
  return tencent.activities.filter((a) => a.instanceIds.includes(instanceId)).length;
}

const cases = flows.flatMap((flow) =>
  CRASH_POINTS.filter((point) => !flow.skips.includes(point)).map((point) => ({ flow, point })),
);

describe('crash points: killed between two effects, recovered, nothing lost or done twice', () => {
  it('names every crash point in at least one case', () => {
    expect(new Set(cases.map((c) => c.point))).toEqual(new Set(CRASH_POINTS));
  });

  it.concurrent.each(cases.map((c) => [`${c.flow.name} @ ${c.point}`, c] as const))(
    '%s',
    async (_, { flow, point }) => {
      const domain = await aDomain();
      const { request, waiting = [], actedOn, mergedInFirstCall } = await flow.arrange(domain);
      const requests = [request, ...waiting];
      const requestIds = requests.map((r) => r.requestId);
      // Taken onto the ledger by earlier deliveries whose dispatch found the group taken: they wait for `request`'s.
      for (const body of waiting)
        await domain.ledger.begin(newOperation(flow.action, body), domain.clock.now());
      const delivery = { body: request, messageId: uniqueId('msg'), receiveCount: 1 };
      const enqueued: DetachRequest[] = [];
      const queue = { enqueue: async (_a: Action, r: DetachRequest) => void enqueued.push(r) };

      // Act: the first process (the function, then its poller passes) dies right after the point's port call.
      const process = new CrashableProcess('first', { crashAfter: CRASH_AFTER[point] });
      const ports = process.ports({ ...domain.deps, queue });
      const crashed = await runUntilCrash(process.died, async () => {
        if (flow.via === 'webhook') await acceptRequest(ports, flow.action, request, 'src-1');
        else await submitRequest(ports, flow.action, delivery);
        await domain.settle(requestIds, 40, ports);
      });
      // Recovery, in a new process: the messages come back (never acknowledged), and the poller passes.
      const recovery = new CrashableProcess('recovery').ports({ ...domain.deps, queue });
      for (const body of flow.via === 'webhook' ? enqueued : requests)
        await submitRequest(recovery, flow.action, { ...delivery, body, receiveCount: 2 });
      const records = await domain.settle(requestIds, 40, recovery);

      expect(crashed).toBe(true);
      if (mergedInFirstCall) expect(await mergedInFirstCall()).toBeGreaterThanOrEqual(2);
      expect(records.map((r) => r.status)).toEqual(requests.map(() => 'SUCCEEDED'));
      for (const [i, r] of requests.entries()) {
        const record = records[i];
        const eventIds = domain.publisher.eventIdsOf(r.requestId);
        expect([...eventIds]).toEqual([record?.event?.eventId]);
        expect(await actedOn(r)).toBe(1);
        if (r.callbackUrl) {
          const callbacks = domain.callbackSender.received.filter((c) => c.event.requestId === r.requestId);
          expect(callbacks.length).toBeGreaterThanOrEqual(1);
          expect(new Set(callbacks.map((c) => c.event.eventId))).toEqual(eventIds);
        }
      }
      const group = await domain.groupItem(groupKeyOf(request));
      expect(group.intent).toBeUndefined();
      expect(group.activityId).toBeUndefined();
    },
  );
});
