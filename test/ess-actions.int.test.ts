import RPCClient from '@alicloud/pop-core';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { EssClient } from '../shared/providers/aliyun/ess-client.ts';
import { createHttpAgent } from '../shared/providers/http.ts';
import { aScalingGroup, EMULATOR_KEY, EmulatorAdmin, uniqueId } from '../support/emulator-admin.ts';
import { failure } from './support/failure.ts';

/** The emulator's RemoveInstances, DetachVServerGroups and DetachAlbServerGroups, to the letter of the seeds. */
const emulatorUrl = inject('stack').endpoints.emulator;
const admin = new EmulatorAdmin(emulatorUrl);
const httpAgent = createHttpAgent();
afterAll(() => httpAgent.close());
const ess = new EssClient({
  credentials: async () => EMULATOR_KEY,
  httpAgent,
  endpointOverride: emulatorUrl,
});
const settle = (ms = 150) => new Promise((resolve) => setTimeout(resolve, ms));

const instanceOf = async (id: string) =>
  (await admin.state()).aliyun.instances.find((i) => i.instanceId === id);

describe('RemoveInstances', () => {
  it('releases AutoCreated instances and leaves manually attached ones running', async () => {
    const group = await aScalingGroup(admin, {
      instances: 3,
      creationTypes: ['AutoCreated', 'Attached'],
      activityDurationMs: 50,
    });
    const [auto, attached] = group.instanceIds as [string, string];

    const { scalingActivityId } = await ess.removeInstances({
      region: group.region,
      scalingGroupId: group.scalingGroupId,
      instanceIds: [auto, attached],
    });
    await settle();
    const [activity] = await ess.describeScalingActivities(group.region, [scalingActivityId as string]);

    expect(await instanceOf(auto)).toMatchObject({ status: 'Released' });
    expect(await instanceOf(attached)).toMatchObject({ status: 'Running' });
    expect((await instanceOf(attached))?.scalingGroupId).toBeUndefined();
    expect(activity).toMatchObject({
      StatusCode: 'Successful',
      DestroyedInstances: { DestroyedInstance: [auto] },
    });
  });

  it('recycles (stops) AutoCreated instances when the group scaling policy is recycle', async () => {
    const group = await aScalingGroup(admin, { scalingPolicy: 'recycle', activityDurationMs: 50 });
    const [auto] = group.instanceIds as [string];

    const { scalingActivityId } = await ess.removeInstances({
      region: group.region,
      scalingGroupId: group.scalingGroupId,
      instanceIds: [auto],
      removePolicy: 'recycle',
    });
    await settle();
    const [activity] = await ess.describeScalingActivities(group.region, [scalingActivityId as string]);

    expect(await instanceOf(auto)).toMatchObject({ status: 'Stopped' });
    expect(activity).toMatchObject({ StoppedInstances: { StoppedInstance: [auto] } });
  });

  it('refuses recycle on a group whose scaling policy is not recycle with InvalidParameter', async () => {
    const group = await aScalingGroup(admin, { scalingPolicy: 'release' });

    const error = await failure(
      ess.removeInstances({
        region: group.region,
        scalingGroupId: group.scalingGroupId,
        instanceIds: group.instanceIds.slice(0, 1),
        removePolicy: 'recycle',
      }),
    );

    expect([error.code, error.httpStatus, error.message]).toEqual([
      'InvalidParameter',
      400,
      'The specified group does not support the specified RemovePolicy.',
    ]);
  });

  it('is a pop-core call like any other', async () => {
    const group = await aScalingGroup(admin);
    const client = new RPCClient({ ...EMULATOR_KEY, endpoint: emulatorUrl, apiVersion: '2014-08-28' });

    const answer = (await client.request(
      'RemoveInstances',
      {
        RegionId: group.region,
        ScalingGroupId: group.scalingGroupId,
        InstanceId: [group.instanceIds[0]],
        RemovePolicy: 'release',
      },
      { method: 'POST' },
    )) as { ScalingActivityId?: string };

    expect(answer.ScalingActivityId).toMatch(/^asa-/);
  });
});

describe('DetachVServerGroups', () => {
  const attached = [
    { loadBalancerId: 'lb-a', vServerGroupId: 'rsp-a1', port: 80 },
    { loadBalancerId: 'lb-a', vServerGroupId: 'rsp-a2', port: 443 },
  ];
  const described = async (region: string, id: string) => (await ess.describeScalingGroups(region, [id]))[0];

  it('removes the groups matched by load balancer, vServer group and port, later, and answers only a RequestId', async () => {
    const group = await aScalingGroup(admin, { vServerGroups: attached, activityDurationMs: 100 });

    const answer = await ess.detachVServerGroups({
      region: group.region,
      scalingGroupId: group.scalingGroupId,
      vServerGroups: [
        { loadBalancerId: 'lb-a', vServerGroupAttributes: [{ vServerGroupId: 'rsp-a1', port: 80 }] },
      ],
    });
    const before = await described(group.region, group.scalingGroupId);
    await settle(200);
    const after = await described(group.region, group.scalingGroupId);

    expect(Object.keys(answer)).toEqual(['requestId']);
    expect(before?.VServerGroups?.VServerGroup[0]?.VServerGroupAttributes.VServerGroupAttribute).toHaveLength(
      2,
    );
    expect(after?.VServerGroups?.VServerGroup[0]?.VServerGroupAttributes.VServerGroupAttribute).toEqual([
      { VServerGroupId: 'rsp-a2', Port: 443 },
    ]);
  });

  it('ignores a request that matches nothing, without error', async () => {
    const group = await aScalingGroup(admin, { vServerGroups: attached, activityDurationMs: 0 });

    await ess.detachVServerGroups({
      region: group.region,
      scalingGroupId: group.scalingGroupId,
      vServerGroups: [
        { loadBalancerId: 'lb-a', vServerGroupAttributes: [{ vServerGroupId: 'rsp-a1', port: 8080 }] },
      ],
    });
    await settle(50);

    expect(
      (await described(group.region, group.scalingGroupId))?.VServerGroups?.VServerGroup[0]
        ?.VServerGroupAttributes.VServerGroupAttribute,
    ).toHaveLength(2);
  });

  it('takes the group instances out of the vServer group only with ForceDetach', async () => {
    const kept = await aScalingGroup(admin, {
      vServerGroups: [{ loadBalancerId: 'lb-k', vServerGroupId: uniqueId('rsp'), port: 80 }],
      activityDurationMs: 0,
    });
    const forced = await aScalingGroup(admin, {
      vServerGroups: [{ loadBalancerId: 'lb-f', vServerGroupId: uniqueId('rsp'), port: 80 }],
      activityDurationMs: 0,
    });
    const detach = (
      group: typeof kept,
      forceDetach: boolean,
      vServerGroupId: string,
      loadBalancerId: string,
    ) =>
      ess.detachVServerGroups({
        region: group.region,
        scalingGroupId: group.scalingGroupId,
        forceDetach,
        vServerGroups: [{ loadBalancerId, vServerGroupAttributes: [{ vServerGroupId, port: 80 }] }],
      });
    const keptId = (await described(kept.region, kept.scalingGroupId))?.VServerGroups?.VServerGroup[0]
      ?.VServerGroupAttributes.VServerGroupAttribute[0]?.VServerGroupId as string;
    const forcedId = (await described(forced.region, forced.scalingGroupId))?.VServerGroups?.VServerGroup[0]
      ?.VServerGroupAttributes.VServerGroupAttribute[0]?.VServerGroupId as string;

    await detach(kept, false, keptId, 'lb-k');
    await detach(forced, true, forcedId, 'lb-f');
    await settle(50);
    const { backends } = (await admin.state()).aliyun;

    expect(backends[keptId]?.sort()).toEqual([...kept.instanceIds].sort());
    expect(backends[forcedId]).toEqual([]);
  });

  it('answers a port out of range with InvalidParameter and no vServer group with MissingParameter', async () => {
    const group = await aScalingGroup(admin, { vServerGroups: attached });

    const badPort = await failure(
      ess.detachVServerGroups({
        region: group.region,
        scalingGroupId: group.scalingGroupId,
        vServerGroups: [
          { loadBalancerId: 'lb-a', vServerGroupAttributes: [{ vServerGroupId: 'rsp-a1', port: 70000 }] },
        ],
      }),
    );
    const missing = await failure(
      ess.call('DetachVServerGroups', group.region, { ScalingGroupId: group.scalingGroupId }),
    );
    const sixBalancers = await failure(
      ess.call('DetachVServerGroups', group.region, {
        ScalingGroupId: group.scalingGroupId,
        'VServerGroup.6.LoadBalancerId': 'lb-a',
        'VServerGroup.6.VServerGroupAttribute.1.VServerGroupId': 'rsp-a1',
        'VServerGroup.6.VServerGroupAttribute.1.Port': 80,
      }),
    );

    expect([badPort.code, badPort.httpStatus]).toEqual(['InvalidParameter', 400]);
    expect([missing.code, missing.httpStatus]).toEqual(['MissingParameter', 400]);
    expect(sixBalancers.code).toBe('InvalidParameter');
  });
});

describe('DetachAlbServerGroups', () => {
  it('answers AlbServerGroup.NotAttached for a server group the scaling group does not have', async () => {
    const group = await aScalingGroup(admin, { albServerGroups: [{ albServerGroupId: 'sgp-1', port: 80 }] });

    const error = await failure(
      ess.detachAlbServerGroups({
        region: group.region,
        scalingGroupId: group.scalingGroupId,
        albServerGroups: [{ albServerGroupId: 'sgp-1', port: 81 }],
      }),
    );

    expect([error.code, error.httpStatus, error.kind]).toEqual(['AlbServerGroup.NotAttached', 400, 'fatal']);
  });

  it('returns a ScalingActivityId only with ForceDetach, and the activity takes the instances out', async () => {
    const plain = await aScalingGroup(admin, {
      albServerGroups: [{ albServerGroupId: uniqueId('sgp'), port: 80 }],
      activityDurationMs: 50,
    });
    const sgp = uniqueId('sgp');
    const forced = await aScalingGroup(admin, {
      albServerGroups: [{ albServerGroupId: sgp, port: 80 }],
      activityDurationMs: 50,
    });
    const plainGroupId = (await ess.describeScalingGroups(plain.region, [plain.scalingGroupId]))[0]
      ?.AlbServerGroups?.AlbServerGroup[0]?.AlbServerGroupId as string;

    const withoutForce = await ess.detachAlbServerGroups({
      region: plain.region,
      scalingGroupId: plain.scalingGroupId,
      albServerGroups: [{ albServerGroupId: plainGroupId, port: 80 }],
    });
    const withForce = await ess.detachAlbServerGroups({
      region: forced.region,
      scalingGroupId: forced.scalingGroupId,
      albServerGroups: [{ albServerGroupId: sgp, port: 80 }],
      forceDetach: true,
    });
    await settle();
    const [activity] = await ess.describeScalingActivities(forced.region, [
      withForce.scalingActivityId as string,
    ]);
    const [after] = await ess.describeScalingGroups(forced.region, [forced.scalingGroupId]);

    expect(withoutForce.scalingActivityId).toBeUndefined();
    expect(activity?.StatusCode).toBe('Successful');
    expect(after?.AlbServerGroups?.AlbServerGroup).toEqual([]);
    expect((await admin.state()).aliyun.backends[sgp]).toEqual([]);
  });

  it('returns the first result for a repeated ClientToken instead of acting twice', async () => {
    const sgp = uniqueId('sgp');
    const group = await aScalingGroup(admin, {
      albServerGroups: [{ albServerGroupId: sgp, port: 80 }],
      activityDurationMs: 2000,
    });
    const input = {
      region: group.region,
      scalingGroupId: group.scalingGroupId,
      albServerGroups: [{ albServerGroupId: sgp, port: 80 }],
      forceDetach: true,
      clientToken: uniqueId('token'),
    };

    const first = await ess.detachAlbServerGroups(input);
    const again = await ess.detachAlbServerGroups(input);

    expect(again.scalingActivityId).toBe(first.scalingActivityId);
    expect(
      (await admin.state()).aliyun.activities.filter((a) => a.scalingGroupId === group.scalingGroupId),
    ).toHaveLength(1);
  });
});
