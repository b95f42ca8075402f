/**
 * The clouds' own SDKs as clients of the emulator: each drives every action and Describe call we use, and each
 * Describe answer is checked against the schema written from the API reference (support/emulator-response-schemas).
 */
import * as openapi from '@alicloud/openapi-client';
import RPCClient from '@alicloud/pop-core';
import QcloudApi from 'qcloudapi-sdk';
import { describe, expect, inject, it } from 'vitest';
import type { z } from 'zod';
import { aScalingGroup, EMULATOR_KEY, EmulatorAdmin } from '../support/emulator-admin.ts';
import { aTencentGroup, TENCENT_KEY, TENCENT_ROOT_KEY, tencentSdk } from '../support/tencent.ts';
import {
  EssActivitiesResponse,
  EssGroupsResponse,
  EssInstancesResponse,
  TencentActivitiesResponse,
  TencentGroupsResponse,
  TencentInstancesResponse,
  V2ActivitiesResponse,
  V2InstancesResponse,
} from './support/emulator-response-schemas.ts';

const emulatorUrl = inject('stack').endpoints.emulator;
const admin = new EmulatorAdmin(emulatorUrl);
const settle = (ms = 200) => new Promise((resolve) => setTimeout(resolve, ms));

/** Parses with the reference schema and fails with zod's own account of what differs. */
function conforms<T extends z.ZodType>(schema: T, body: unknown): z.infer<T> {
  const parsed = schema.safeParse(body);
  if (!parsed.success) throw new Error(`not as the reference documents it:\n${parsed.error.message}`);
  return parsed.data;
}

type EssCall = (action: string, params: Record<string, string>) => Promise<Record<string, unknown>>;

// The package is CommonJS with `exports.default = Client`.
const OpenApiClient = ((openapi as unknown as { default: { default?: unknown } }).default.default ??
  (openapi as unknown as { default: unknown }).default) as new (
  config: openapi.Config,
) => {
  callApi(
    params: openapi.Params,
    request: openapi.OpenApiRequest,
    runtime: object,
  ): Promise<{ body: Record<string, unknown> }>;
};

function openApiClient(signatureAlgorithm: 'v3' | 'v2', key = EMULATOR_KEY): EssCall {
  const client = new OpenApiClient(
    new openapi.Config({
      ...key,
      endpoint: new URL(emulatorUrl).host,
      protocol: 'http',
      regionId: 'cn-hangzhou',
      // Without it the client signs V3 (ACS3-HMAC-SHA256); 'v2' is the RPC signature 1.0.
      ...(signatureAlgorithm === 'v2' && { signatureAlgorithm: 'v2' }),
    }),
  );
  return async (action, params) =>
    (
      await client.callApi(
        new openapi.Params({
          action,
          version: '2014-08-28',
          protocol: 'HTTP',
          pathname: '/',
          method: 'POST',
          authType: 'AK',
          style: 'RPC',
          reqBodyType: 'formData',
          bodyType: 'json',
        }),
        new openapi.OpenApiRequest({ query: params }),
        { readTimeout: 5000, connectTimeout: 5000 },
      )
    ).body;
}

function popCoreClient(): EssCall {
  const client = new RPCClient({ ...EMULATOR_KEY, endpoint: emulatorUrl, apiVersion: '2014-08-28' });
  return async (action, params) =>
    (await client.request(action, params, { method: 'POST' })) as Record<string, unknown>;
}

describe.each([
  ['@alicloud/openapi-client, signature V3 (ACS3-HMAC-SHA256)', () => openApiClient('v3'), undefined],
  ['@alicloud/openapi-client, RPC signature 1.0', () => openApiClient('v2'), '1.0'],
  ['@alicloud/pop-core', popCoreClient, '1.0'],
])('%s drives every ESS action against the emulator', (_name, makeClient, signatureVersion) => {
  it('DetachInstances, RemoveInstances, DetachVServerGroups, DetachAlbServerGroups and the three Describe calls', async () => {
    const call = makeClient();
    const group = await aScalingGroup(admin, {
      instances: 4,
      activityDurationMs: 50,
      vServerGroups: [{ loadBalancerId: 'lb-sdk', vServerGroupId: 'rsp-sdk', port: 80 }],
      albServerGroups: [{ albServerGroupId: 'sgp-sdk', port: 8080 }],
    });
    const [first, second] = group.instanceIds as [string, string];
    const region = { RegionId: group.region };

    const detached = await call('DetachInstances', {
      ...region,
      ScalingGroupId: group.scalingGroupId,
      'InstanceId.1': first,
    });
    await settle();
    const removed = await call('RemoveInstances', {
      ...region,
      ScalingGroupId: group.scalingGroupId,
      'InstanceId.1': second,
    });
    await settle();
    const vServer = await call('DetachVServerGroups', {
      ...region,
      ScalingGroupId: group.scalingGroupId,
      'VServerGroup.1.LoadBalancerId': 'lb-sdk',
      'VServerGroup.1.VServerGroupAttribute.1.VServerGroupId': 'rsp-sdk',
      'VServerGroup.1.VServerGroupAttribute.1.Port': '80',
    });
    const alb = await call('DetachAlbServerGroups', {
      ...region,
      ScalingGroupId: group.scalingGroupId,
      'AlbServerGroup.1.AlbServerGroupId': 'sgp-sdk',
      'AlbServerGroup.1.Port': '8080',
      ForceDetach: 'true',
    });
    await settle();
    const activities = conforms(
      EssActivitiesResponse,
      await call('DescribeScalingActivities', {
        ...region,
        'ScalingActivityId.1': detached.ScalingActivityId as string,
        'ScalingActivityId.2': removed.ScalingActivityId as string,
        'ScalingActivityId.3': alb.ScalingActivityId as string,
      }),
    );
    const groups = conforms(
      EssGroupsResponse,
      await call('DescribeScalingGroups', { ...region, 'ScalingGroupId.1': group.scalingGroupId }),
    );
    const instances = conforms(
      EssInstancesResponse,
      await call('DescribeScalingInstances', { ...region, ScalingGroupId: group.scalingGroupId }),
    );

    const sent = await admin.calls({ action: 'DetachInstances', scalingGroupId: group.scalingGroupId });
    // A V3 call carries no signature parameters: it is signed in its Authorization header.
    expect(sent[0]?.params.SignatureVersion).toBe(signatureVersion);
    expect(vServer.RequestId).toEqual(expect.any(String));
    expect(
      activities.ScalingActivities.ScalingActivity.map((a) => [a.ScalingActivityId, a.StatusCode]),
    ).toEqual([
      [detached.ScalingActivityId, 'Successful'],
      [removed.ScalingActivityId, 'Successful'],
      [alb.ScalingActivityId, 'Successful'],
    ]);
    expect(activities.ScalingActivities.ScalingActivity[1]?.DestroyedInstances.DestroyedInstance).toEqual([
      second,
    ]);
    expect(groups.ScalingGroups.ScalingGroup[0]).toMatchObject({
      TotalCapacity: 2,
      VServerGroups: { VServerGroup: [] },
      AlbServerGroups: { AlbServerGroup: [] },
    });
    expect(instances.ScalingInstances.ScalingInstance.map((i) => i.InstanceId).sort()).toEqual(
      group.instanceIds.slice(2).sort(),
    );
  });
});

describe("@alicloud/openapi-client V3 against the emulator's checks", () => {
  it('a wrong secret is SignatureDoesNotMatch, an unknown key InvalidAccessKeyId.NotFound', async () => {
    const call = (key: typeof EMULATOR_KEY) =>
      openApiClient('v3', key)('DescribeScalingGroups', { RegionId: 'cn-hangzhou' }).catch(
        (error: { code?: string }) => error.code,
      );

    expect(await call({ ...EMULATOR_KEY, accessKeySecret: 'wrong' })).toBe('SignatureDoesNotMatch');
    expect(await call({ accessKeyId: 'LTAI-nobody', accessKeySecret: 'x' })).toBe(
      'InvalidAccessKeyId.NotFound',
    );
  });
});

describe.each([
  ['POST', 'TC3-HMAC-SHA256'],
  ['GET', 'TC3-HMAC-SHA256'],
  ['POST', 'HmacSHA256'],
  ['GET', 'HmacSHA256'],
  ['POST', 'HmacSHA1'],
  ['GET', 'HmacSHA1'],
] as const)('tencentcloud-sdk-nodejs, %s signed %s, drives every API 3.0 action', (reqMethod, signMethod) => {
  const sdk = () => tencentSdk(emulatorUrl, 'ap-guangzhou', TENCENT_KEY, { reqMethod, signMethod });

  it('DetachInstances, RemoveInstances and the three Describe calls', async () => {
    const group = await aTencentGroup(admin, { instances: 4, activityDurationMs: 50 });
    const [first, second] = group.instanceIds as [string, string];

    const detached = await sdk().DetachInstances({
      AutoScalingGroupId: group.scalingGroupId,
      InstanceIds: [first],
    });
    await settle();
    const removed = await sdk().RemoveInstances({
      AutoScalingGroupId: group.scalingGroupId,
      InstanceIds: [second],
    });
    await settle();
    const activities = conforms(
      TencentActivitiesResponse,
      await sdk().DescribeAutoScalingActivities({
        ActivityIds: [detached.ActivityId as string, removed.ActivityId as string],
      }),
    );
    const byGroup = conforms(
      TencentActivitiesResponse,
      await sdk().DescribeAutoScalingActivities({
        Filters: [{ Name: 'auto-scaling-group-id', Values: [group.scalingGroupId] }],
        Limit: 10,
      }),
    );
    const groups = conforms(
      TencentGroupsResponse,
      await sdk().DescribeAutoScalingGroups({ AutoScalingGroupIds: [group.scalingGroupId] }),
    );
    const instances = conforms(
      TencentInstancesResponse,
      await sdk().DescribeAutoScalingInstances({ InstanceIds: group.instanceIds }),
    );

    expect(activities.ActivitySet.map((a) => [a.ActivityType, a.StatusCode])).toEqual([
      ['DETACH_INSTANCES', 'SUCCESSFUL'],
      ['REMOVE_INSTANCES', 'SUCCESSFUL'],
    ]);
    expect(byGroup.TotalCount).toBe(2);
    expect(groups.AutoScalingGroupSet[0]).toMatchObject({ InstanceCount: 2, DesiredCapacity: 2 });
    expect(instances.AutoScalingInstanceSet.map((i) => i.InstanceId).sort()).toEqual(
      group.instanceIds.slice(2).sort(),
    );
  });

  it('a wrong key is AuthFailure.SignatureFailure, in a Tencent envelope', async () => {
    const error = (await tencentSdk(
      emulatorUrl,
      'ap-guangzhou',
      { ...TENCENT_KEY, secretKey: 'wrong' },
      {
        reqMethod,
        signMethod,
      },
    )
      .DescribeAutoScalingGroups({})
      .catch((e: unknown) => e)) as { code?: string; requestId?: string };

    expect(error.code).toBe('AuthFailure.SignatureFailure');
    expect(error.requestId).toEqual(expect.any(String));
  });
});

/** qcloudapi-sdk, the legacy v2 client, with its callback turned into a promise. */
function v2Call(method: 'GET' | 'POST', signatureMethod: 'sha1' | 'sha256') {
  const { host } = new URL(emulatorUrl);
  const options = {
    // The root key: the deployment's key holds exactly docs/policies/, which grant no v2 DescribeScalingActivity.
    SecretId: TENCENT_ROOT_KEY.secretId,
    SecretKey: TENCENT_ROOT_KEY.secretKey,
    host,
    protocol: 'http',
    path: '/v2/index.php',
    method,
    signatureMethod,
  } as const;
  const capi = new QcloudApi(options);
  return (data: Record<string, unknown>) =>
    new Promise<Record<string, unknown>>((resolve, reject) =>
      capi.request(data, options, (error, body) =>
        error ? reject(error) : resolve(body as Record<string, unknown>),
      ),
    );
}

describe.each([
  ['POST', 'sha1'],
  ['GET', 'sha256'],
] as const)('qcloudapi-sdk (v2), %s signed %s, drives every v2 action', (method, signatureMethod) => {
  it('DetachInstance, DescribeScalingActivity, DescribeScalingInstance', async () => {
    const call = v2Call(method, signatureMethod);
    const group = await aTencentGroup(admin, { instances: 3, activityDurationMs: 50 });
    const [first] = group.instanceIds as [string];

    const detached = await call({
      Action: 'DetachInstance',
      Region: 'gz',
      scalingGroupId: group.scalingGroupId,
      instanceIds: [first],
      keepInstance: 1,
    });
    await settle();
    const activities = conforms(
      V2ActivitiesResponse,
      await call({ Action: 'DescribeScalingActivity', Region: 'gz', scalingGroupId: group.scalingGroupId }),
    );
    const instances = conforms(
      V2InstancesResponse,
      await call({
        Action: 'DescribeScalingInstance',
        Region: 'ap-guangzhou',
        scalingGroupId: group.scalingGroupId,
      }),
    );

    expect(detached).toMatchObject({ code: 0, codeDesc: 'Success' });
    expect(activities.data.scalingActivitySet.map((a) => [a.type, a.status, a.succInsList])).toEqual([
      [3, 2, [first]],
    ]);
    expect(instances.data.scalingInstancesSet.map((i) => i.instanceId).sort()).toEqual(
      group.instanceIds.slice(1).sort(),
    );
  });
});
