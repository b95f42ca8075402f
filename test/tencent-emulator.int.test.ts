import { createHmac } from 'node:crypto';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { instanceStateAccepted, TENCENT_INSTANCE_STATES } from '../shared/contracts/instance-states.ts';
import { createHttpAgent } from '../shared/providers/http.ts';
import { TencentAsClient } from '../shared/providers/tencent/as-client.ts';
import { TencentV2Client } from '../shared/providers/tencent/v2-client.ts';
import { EmulatorAdmin } from '../support/emulator-admin.ts';
import { aTencentGroup, TENCENT_KEY, tencentSdk } from '../support/tencent.ts';
import { failure } from './support/failure.ts';

const emulatorUrl = inject('stack').endpoints.emulator;
const admin = new EmulatorAdmin(emulatorUrl);
const httpAgent = createHttpAgent();
afterAll(() => httpAgent.close());
const credentials = async () => TENCENT_KEY;
const api = new TencentAsClient({ credentials, httpAgent, endpointOverride: emulatorUrl });
const v2 = new TencentV2Client({ credentials, httpAgent, endpointOverride: emulatorUrl });
const settle = (ms = 150) => new Promise((resolve) => setTimeout(resolve, ms));

describe('tencentcloud-sdk-nodejs as a client of the API 3.0 emulator', () => {
  it('DetachInstances, DescribeAutoScalingActivities, DescribeAutoScalingGroups, DescribeAutoScalingInstances', async () => {
    const group = await aTencentGroup(admin, { activityDurationMs: 50 });
    const sdk = tencentSdk(emulatorUrl);

    const detached = await sdk.DetachInstances({
      AutoScalingGroupId: group.scalingGroupId,
      InstanceIds: [group.instanceIds[0] as string],
    });
    await settle();
    const activities = await sdk.DescribeAutoScalingActivities({
      ActivityIds: [detached.ActivityId as string],
    });
    const groups = await sdk.DescribeAutoScalingGroups({ AutoScalingGroupIds: [group.scalingGroupId] });
    const instances = await sdk.DescribeAutoScalingInstances({ InstanceIds: group.instanceIds });

    expect(activities.ActivitySet?.[0]).toMatchObject({
      ActivityId: detached.ActivityId,
      ActivityType: 'DETACH_INSTANCES',
      StatusCode: 'SUCCESSFUL',
      RelatedInstanceSet: [{ InstanceId: group.instanceIds[0], InstanceStatus: 'SUCCESSFUL' }],
    });
    expect(groups.AutoScalingGroupSet?.[0]).toMatchObject({
      InstanceCount: 2,
      InActivityStatus: 'NOT_IN_ACTIVITY',
    });
    expect(instances.AutoScalingInstanceSet?.map((i) => i.InstanceId).sort()).toEqual(
      group.instanceIds.slice(1).sort(),
    );
  });

  it('RemoveInstances terminates auto-created instances and only detaches manually added ones', async () => {
    const group = await aTencentGroup(admin, {
      activityDurationMs: 50,
      creationTypes: ['AUTO_CREATION', 'MANUAL_ATTACHING'],
    });

    await tencentSdk(emulatorUrl).RemoveInstances({
      AutoScalingGroupId: group.scalingGroupId,
      InstanceIds: group.instanceIds.slice(0, 2),
    });
    await settle();

    const state = (await admin.state()).tencent.instances;
    expect(state.find((i) => i.instanceId === group.instanceIds[0])?.status).toBe('TERMINATED');
    expect(state.find((i) => i.instanceId === group.instanceIds[1])?.status).toBe('RUNNING');
  });

  it('the SDK sees emulator errors as TencentCloudSDKHttpException with the code', async () => {
    const error = (await tencentSdk(emulatorUrl)
      .DetachInstances({ AutoScalingGroupId: 'asg-missing0', InstanceIds: ['ins-1'] })
      .catch((e: unknown) => e)) as { code?: string };

    expect(error.code).toBe('ResourceNotFound.AutoScalingGroupNotFound');
  });

  it('refuses a wrong SecretKey with AuthFailure.SignatureFailure and an unknown SecretId with SecretIdNotFound', async () => {
    const wrongKey = (await tencentSdk(emulatorUrl, 'ap-guangzhou', { ...TENCENT_KEY, secretKey: 'wrong' })
      .DescribeAutoScalingGroups({})
      .catch((e: unknown) => e)) as { code?: string };
    const unknown = (await tencentSdk(emulatorUrl, 'ap-guangzhou', { secretId: 'AKIDnobody', secretKey: 'x' })
      .DescribeAutoScalingGroups({})
      .catch((e: unknown) => e)) as { code?: string };

    expect(wrongKey.code).toBe('AuthFailure.SignatureFailure');
    expect(unknown.code).toBe('AuthFailure.SecretIdNotFound');
  });
});

describe('our API 3.0 client against the emulator: the documented error codes, classified', () => {
  it.each([
    [
      'ResourceNotFound.AutoScalingGroupNotFound',
      'fatal',
      {},
      (g: { scalingGroupId: string }) => ({ ...g, scalingGroupId: 'asg-nowhere0' }),
    ],
    ['ResourceInsufficient.InServiceInstanceBelowMinSize', 'fatal', { minSize: 3 }, (g: object) => g],
    [
      'ResourceNotFound.InstancesNotInAutoScalingGroup',
      'fatal',
      {},
      (g: { instanceIds: string[] }) => ({ ...g, instanceIds: ['ins-elsewhere'] }),
    ],
  ] as const)('%s is %s', async (code, kind, options, change) => {
    const group = change(await aTencentGroup(admin, options)) as {
      region: string;
      scalingGroupId: string;
      instanceIds: string[];
    };

    const error = await failure(
      api.detachInstances(group.region, group.scalingGroupId, group.instanceIds.slice(0, 1)),
    );

    expect([error.code, error.kind]).toEqual([code, kind]);
  });

  it('a disabled group skips the MinSize check (docs/reference/tencent-as.md §B1)', async () => {
    const group = await aTencentGroup(admin, { minSize: 3, enabled: false });

    await expect(
      api.detachInstances(group.region, group.scalingGroupId, group.instanceIds.slice(0, 1)),
    ).resolves.toMatch(/^asa-/);
  });

  it('ResourceUnavailable.AutoScalingGroupInActivity is busy', async () => {
    const group = await aTencentGroup(admin, { activityDurationMs: 3000 });
    await api.detachInstances(group.region, group.scalingGroupId, [group.instanceIds[0] as string]);

    const error = await failure(
      api.detachInstances(group.region, group.scalingGroupId, [group.instanceIds[1] as string]),
    );

    expect([error.code, error.kind]).toEqual(['ResourceUnavailable.AutoScalingGroupInActivity', 'busy']);
  });

  it('more than 20 DetachInstances a second answer RequestLimitExceeded, which is throttled', async () => {
    const group = await aTencentGroup(admin, { instances: 1 });
    const attempts = Array.from({ length: 30 }, () =>
      failure(api.detachInstances(group.region, 'asg-nowhere0', [group.instanceIds[0] as string])),
    );

    const codes = (await Promise.all(attempts)).map((error) => `${error.code}/${error.kind}`);

    expect(codes).toContain('RequestLimitExceeded/throttled');
    expect(codes).toContain('ResourceNotFound.AutoScalingGroupNotFound/fatal');
  });

  it('RequestLimitExceeded is throttled', async () => {
    const group = await aTencentGroup(admin);
    await admin.inject({
      action: 'DetachInstances',
      scalingGroupId: group.scalingGroupId,
      error: { code: 'RequestLimitExceeded', httpStatus: 200 },
    });

    const error = await failure(
      api.detachInstances(group.region, group.scalingGroupId, [group.instanceIds[0] as string]),
    );

    expect([error.code, error.kind]).toEqual(['RequestLimitExceeded', 'throttled']);
  });

  it('AuthFailure.SignatureExpire (clock 10 minutes off) and SignatureFailure are fatal', async () => {
    const skewed = new TencentAsClient({
      credentials,
      httpAgent,
      endpointOverride: emulatorUrl,
      now: () => new Date(Date.now() - 600_000),
    });
    const wrong = new TencentAsClient({
      credentials: async () => ({ ...TENCENT_KEY, secretKey: 'wrong' }),
      httpAgent,
      endpointOverride: emulatorUrl,
    });

    const expired = await failure(skewed.describeActivities('ap-guangzhou', ['asa-1']));
    const bad = await failure(wrong.describeActivities('ap-guangzhou', ['asa-1']));

    expect([expired.code, expired.kind]).toEqual(['AuthFailure.SignatureExpire', 'fatal']);
    expect([bad.code, bad.kind]).toEqual(['AuthFailure.SignatureFailure', 'fatal']);
  });

  it('describes up to 100 activities in one call', async () => {
    const ids = Array.from({ length: 100 }, (_, i) => `asa-${i}`);

    await expect(api.describeActivities('ap-guangzhou', ids)).resolves.toEqual([]);
    const error = await failure(api.describeActivities('ap-guangzhou', [...ids, 'asa-101']));
    expect(error.code).toBe('InvalidParameterValue.LimitExceeded');
  });
});

describe('the legacy v2 DetachInstance in the emulator (seed: tencent-as-v2-DetachInstance.md)', () => {
  it('keepInstance 0 terminates auto-created instances, never manually created ones; 1 keeps them', async () => {
    const released = await aTencentGroup(admin, {
      activityDurationMs: 50,
      creationTypes: ['AUTO_CREATION', 'MANUAL_ATTACHING'],
    });
    const kept = await aTencentGroup(admin, { activityDurationMs: 50 });

    await v2.detachInstance(released.region, released.scalingGroupId, released.instanceIds.slice(0, 2), 0);
    await v2.detachInstance(kept.region, kept.scalingGroupId, kept.instanceIds.slice(0, 1), 1);
    await settle();

    const state = (await admin.state()).tencent.instances;
    const statusOf = (id: string | undefined) => state.find((i) => i.instanceId === id)?.status;
    expect(statusOf(released.instanceIds[0])).toBe('TERMINATED');
    expect(statusOf(released.instanceIds[1])).toBe('RUNNING');
    expect(statusOf(kept.instanceIds[0])).toBe('RUNNING');
    expect(await v2.instancesInGroup(released.region, released.scalingGroupId, released.instanceIds)).toEqual(
      [released.instanceIds[2]],
    );
  });

  it.each([
    [
      'InvalidParameter.ScalingGroupIdError',
      {},
      (g: { scalingGroupId: string }) => ({ ...g, scalingGroupId: 'asg-nowhere0' }),
      'fatal',
    ],
    [
      'InvalidParameter.InstanceIdError',
      {},
      (g: { instanceIds: string[] }) => ({ ...g, instanceIds: ['ins-elsewhere'] }),
      'fatal',
    ],
    ['ScalingGroupNotActive', { enabled: false }, (g: object) => g, 'fatal'],
    ['BelowMinSize', { minSize: 3 }, (g: object) => g, 'fatal'],
  ] as const)('%s', async (codeDesc, options, change, kind) => {
    const group = change(await aTencentGroup(admin, options)) as {
      region: string;
      scalingGroupId: string;
      instanceIds: string[];
    };

    const error = await failure(
      v2.detachInstance(group.region, group.scalingGroupId, group.instanceIds.slice(0, 1)),
    );

    expect([error.code, error.kind]).toEqual([codeDesc, kind]);
  });

  it('a group in a scaling activity answers 5100 (40000), which is busy', async () => {
    const group = await aTencentGroup(admin, { activityDurationMs: 3000 });
    await v2.detachInstance(group.region, group.scalingGroupId, [group.instanceIds[0] as string], 1);

    const error = await failure(
      v2.detachInstance(group.region, group.scalingGroupId, [group.instanceIds[1] as string], 1),
    );

    expect([error.code, error.kind]).toEqual(['ScalingGroupInActivity', 'busy']);
  });

  it('checks the v2 signature: a wrong key is 4100, an unknown SecretId 4104', async () => {
    const wrong = new TencentV2Client({
      credentials: async () => ({ ...TENCENT_KEY, secretKey: 'wrong' }),
      httpAgent,
      endpointOverride: emulatorUrl,
    });
    const unknown = new TencentV2Client({
      credentials: async () => ({ secretId: 'AKIDnobody', secretKey: 'x' }),
      httpAgent,
      endpointOverride: emulatorUrl,
    });

    const bad = await failure(wrong.instancesInGroup('ap-guangzhou', 'asg-x', ['ins-1']));
    const missing = await failure(unknown.instancesInGroup('ap-guangzhou', 'asg-x', ['ins-1']));

    expect([bad.code, bad.kind]).toEqual(['AuthFailure.SignatureFailure', 'fatal']);
    expect([missing.code, missing.kind]).toEqual(['AuthFailure.SecretIdNotFound', 'fatal']);
  });
});

describe('Tencent regions, repeated ids and instance states', () => {
  // A key of its own: DetachInstances allows 20 calls a second per key, and the other tests use the seed's.
  const statesKey = { secretId: 'AKIDstatesKey', secretKey: 'states-secret' };
  const statesApi = new TencentAsClient({
    credentials: async () => statesKey,
    httpAgent,
    endpointOverride: emulatorUrl,
  });
  const statesV2 = new TencentV2Client({
    credentials: async () => statesKey,
    httpAgent,
    endpointOverride: emulatorUrl,
  });
  beforeAll(() =>
    admin.add({ credentials: [{ accessKeyId: statesKey.secretId, accessKeySecret: statesKey.secretKey }] }),
  );

  it("v2 DetachInstance looks the group up in the call's Region: a short code works, another region does not", async () => {
    const group = await aTencentGroup(admin, { activityDurationMs: 50 });

    const elsewhere = await failure(
      statesV2.detachInstance('zz', group.scalingGroupId, [group.instanceIds[0] as string]),
    );
    await statesV2.detachInstance('gz', group.scalingGroupId, [group.instanceIds[0] as string]);

    expect(elsewhere.code).toBe('InvalidParameter.ScalingGroupIdError');
    expect(
      (await admin.state()).tencent.activities.filter((a) => a.groupId === group.scalingGroupId),
    ).toHaveLength(1);
  });

  it('an id named twice counts once against MinSize and is acted on once, in API 3.0 and in v2', async () => {
    const api3Group = await aTencentGroup(admin, { instances: 2, minSize: 1, activityDurationMs: 50 });
    const v2Group = await aTencentGroup(admin, { instances: 2, minSize: 1, activityDurationMs: 50 });
    const api3Id = api3Group.instanceIds[0] as string;
    const v2Id = v2Group.instanceIds[0] as string;

    const activityId = await statesApi.detachInstances(api3Group.region, api3Group.scalingGroupId, [
      api3Id,
      api3Id,
    ]);
    await statesV2.detachInstance(v2Group.region, v2Group.scalingGroupId, [v2Id, v2Id]);

    const { activities } = (await admin.state()).tencent;
    expect(activities.find((a) => a.id === activityId)).toMatchObject({ instanceIds: [api3Id] });
    expect(activities.find((a) => a.groupId === v2Group.scalingGroupId)).toMatchObject({
      instanceIds: [v2Id],
    });
  });

  it.each(Object.keys(TENCENT_INSTANCE_STATES))(
    'API 3.0 takes or refuses an instance in %s as the state table says',
    async (lifeCycleState) => {
      const group = await aTencentGroup(admin, { instances: 2 });
      const id = group.instanceIds[0] as string;
      await admin.add({
        tencent: {
          instances: [
            {
              instanceId: id,
              autoScalingGroupId: group.scalingGroupId,
              lifeCycleState: lifeCycleState as never,
            },
          ],
        },
      });

      const outcome = await statesApi.detachInstances(group.region, group.scalingGroupId, [id]).then(
        () => 'accepted',
        (e: { code?: string }) => e.code,
      );

      expect(outcome).toBe(
        instanceStateAccepted('tencent', lifeCycleState)
          ? 'accepted'
          : 'ResourceUnavailable.InstanceInOperation',
      );
    },
  );
});

describe('every Tencent request is answered in a Tencent envelope', () => {
  it.each([
    ['an unsigned API 3.0 POST', { method: 'POST', headers: { 'x-tc-action': 'DescribeAutoScalingGroups' } }],
    ['an API 3.0 PUT', { method: 'PUT', headers: { 'x-tc-action': 'DescribeAutoScalingGroups' } }],
    [
      'an API 3.0 call on another path',
      { method: 'POST', path: 'v3/', headers: { 'x-tc-action': 'DescribeAutoScalingGroups' } },
    ],
    [
      'a v1-signed call with another Version',
      {
        method: 'GET',
        query:
          '?Action=DescribeAutoScalingGroups&Version=2017-01-01&SecretId=AKIDemulatorTencentKey&Nonce=1&Timestamp=1&Signature=x',
      },
    ],
    [
      'a v1-signed GET with a wrong signature',
      {
        method: 'GET',
        query:
          '?Action=DescribeAutoScalingGroups&Version=2018-04-19&SecretId=AKIDemulatorTencentKey&Nonce=1&Timestamp=1&Signature=x',
      },
    ],
  ] as const)('%s', async (_name, call) => {
    const path = 'path' in call ? call.path : '';
    const response = await request(`${emulatorUrl}/${path}${'query' in call ? call.query : ''}`, {
      method: call.method,
      ...('headers' in call && { headers: call.headers }),
    });
    const body = (await response.body.json()) as {
      Response?: { Error?: { Code: string }; RequestId?: string };
    };

    expect(body.Response?.Error?.Code).toMatch(/^(AuthFailure|InvalidParameter)/);
    expect(body.Response?.RequestId).toEqual(expect.any(String));
  });
});

describe('API 3.0 signature v1 and a replayed Nonce', () => {
  /**
   * A v1-signed GET, signed here from the signature document (METHOD + host + "/?" + the sorted parameters,
   * HMAC-SHA256, base64): the same bytes can be sent again, as a replay would.
   */
  function v1Query(params: Record<string, string>): string {
    const { host } = new URL(emulatorUrl);
    const signed = { ...params, SecretId: TENCENT_KEY.secretId, SignatureMethod: 'HmacSHA256' };
    const sorted = Object.keys(signed)
      .sort()
      .map((key) => `${key}=${signed[key as keyof typeof signed]}`)
      .join('&');
    const signature = createHmac('sha256', TENCENT_KEY.secretKey)
      .update(`GET${host}/?${sorted}`)
      .digest('base64');
    return new URLSearchParams({ ...signed, Signature: signature }).toString();
  }
  const describeGroups = (nonce: string, timestamp: number) =>
    v1Query({
      Action: 'DescribeAutoScalingGroups',
      Version: '2018-04-19',
      Region: 'ap-guangzhou',
      Nonce: nonce,
      Timestamp: String(timestamp),
    });
  async function send(query: string) {
    const response = await request(`${emulatorUrl}/?${query}`);
    return ((await response.body.json()) as { Response: { Error?: { Code: string; Message: string } } })
      .Response;
  }

  it('answers the first call and refuses the same Nonce and Timestamp again, as the document has Nonce for', async () => {
    const now = Math.floor(Date.now() / 1000);
    const query = describeGroups(String(10_000 + Math.floor(Math.random() * 50_000)), now);

    const first = await send(query);
    const replayed = await send(query);

    expect(first.Error).toBeUndefined();
    expect(replayed.Error).toEqual({
      Code: 'AuthFailure.SignatureFailure',
      Message: 'The request was replayed: this Nonce was used already with this Timestamp.',
    });
  });

  it('takes the same Nonce with another Timestamp: the SDKs draw Nonces from a small range, which repeat', async () => {
    const now = Math.floor(Date.now() / 1000);
    const nonce = String(60_000 + Math.floor(Math.random() * 5_000));

    const first = await send(describeGroups(nonce, now - 1));
    const second = await send(describeGroups(nonce, now));

    expect(first.Error).toBeUndefined();
    expect(second.Error).toBeUndefined();
  });
});
