/**
 * The emulator as today's generated SDKs see it: ESS API 2022-02-22 through @alicloud/openapi-client (signature V3
 * and RPC) on every action, and Tencent AS API 3.0 through tencentcloud-sdk-nodejs; every answer is compared,
 * field by field, with the SDKs' response models (test/fixtures/sdk-response-models.json, copied from the SDK
 * sources it names). A field a model has and an answer lacks, or of another type, fails the test.
 */
import { readFileSync } from 'node:fs';
import * as openapi from '@alicloud/openapi-client';
import { describe, expect, inject, it } from 'vitest';
import { EMULATOR_KEY, EmulatorAdmin, uniqueId } from '../support/emulator-admin.ts';
import { TENCENT_KEY, tencentSdk } from '../support/tencent.ts';

const emulatorUrl = inject('stack').endpoints.emulator;
const admin = new EmulatorAdmin(emulatorUrl);
const settle = (ms = 250) => new Promise((resolve) => setTimeout(resolve, ms));

type Models = Record<string, Record<string, string>>;
interface CloudModels {
  roots: Record<string, string>;
  models: Models;
}
const fixture = JSON.parse(
  readFileSync(new URL('./fixtures/sdk-response-models.json', import.meta.url), 'utf8'),
) as { aliyun: CloudModels; tencent: CloudModels };

const PRIMITIVES = new Set(['string', 'number', 'boolean']);

/**
 * Where `value` departs from model `name`: a field missing, or of another type than the model's. `nullable` lists
 * `Model.Field`s that may be null (Tencent answers null for a value it does not have yet).
 */
function departures(
  models: Models,
  name: string,
  value: unknown,
  path: string,
  nullable: Set<string> = new Set(),
): string[] {
  const model = models[name];
  if (!model) return [`${path}: the fixture has no model ${name}`];
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    return [`${path}: not an object (${JSON.stringify(value)})`];
  const record = value as Record<string, unknown>;
  return Object.entries(model).flatMap(([field, type]) => {
    const at = `${path}.${field}`;
    if (!(field in record)) return [`${at}: missing (${type})`];
    const fieldValue = record[field];
    if (fieldValue === null) return nullable.has(`${name}.${field}`) ? [] : [`${at}: null (${type})`];
    return typed(models, type, fieldValue, at, nullable);
  });
}

function typed(models: Models, type: string, value: unknown, at: string, nullable: Set<string>): string[] {
  if (PRIMITIVES.has(type))
    return typeof value === type ? [] : [`${at}: ${JSON.stringify(value)} is not a ${type}`];
  if (type === 'map') return typeof value === 'object' ? [] : [`${at}: not a map`];
  if (type.endsWith('[]')) {
    if (!Array.isArray(value)) return [`${at}: not an array (${JSON.stringify(value)})`];
    const item = type.slice(0, -2);
    return value.flatMap((element, i) => typed(models, item, element, `${at}[${i}]`, nullable));
  }
  return departures(models, type, value, at, nullable);
}

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

type EssCall = (action: string, query: Record<string, unknown>) => Promise<Record<string, unknown>>;

/**
 * A request's lists and objects as the generated SDKs put them in the query (their `OpenApiUtil.query`):
 * `InstanceIds: ['a']` is `InstanceIds.1=a`, `VServerGroups: [{LoadBalancerId}]` is `VServerGroups.1.LoadBalancerId`.
 */
function sdkQuery(value: Record<string, unknown>, prefix = ''): Record<string, string> {
  return Object.fromEntries(
    Object.entries(value).flatMap(([key, field]) => {
      const name = `${prefix}${key}`;
      if (field === undefined || field === null) return [];
      if (Array.isArray(field))
        return field.flatMap((item, i) =>
          typeof item === 'object'
            ? Object.entries(sdkQuery(item as Record<string, unknown>, `${name}.${i + 1}.`))
            : [[`${name}.${i + 1}`, String(item)]],
        );
      if (typeof field === 'object')
        return Object.entries(sdkQuery(field as Record<string, unknown>, `${name}.`));
      return [[name, String(field)]];
    }),
  );
}

/** ESS 2022-02-22 as its generated SDK calls it: RPC style, POST, form body, JSON answers. */
function ess2022(signatureAlgorithm: 'v3' | 'v2'): EssCall {
  const client = new OpenApiClient(
    new openapi.Config({
      ...EMULATOR_KEY,
      endpoint: new URL(emulatorUrl).host,
      protocol: 'http',
      regionId: 'cn-hangzhou',
      // Without it the client signs V3 (ACS3-HMAC-SHA256); 'v2' is the RPC signature 1.0.
      ...(signatureAlgorithm === 'v2' && { signatureAlgorithm: 'v2' }),
    }),
  );
  return async (action, query) =>
    (
      await client.callApi(
        new openapi.Params({
          action,
          version: '2022-02-22',
          protocol: 'HTTP',
          pathname: '/',
          method: 'POST',
          authType: 'AK',
          style: 'RPC',
          reqBodyType: 'formData',
          bodyType: 'json',
        }),
        new openapi.OpenApiRequest({ query: sdkQuery(query) }),
        { readTimeout: 5000, connectTimeout: 5000 },
      )
    ).body;
}

/** A group with something in every list the model has items for, so that the items are compared too. */
async function aFullEssGroup(instances: number) {
  const scalingGroupId = uniqueId('asg');
  const instanceIds = Array.from({ length: instances }, () => uniqueId('i'));
  await admin.add({
    aliyun: {
      scalingGroups: [
        {
          scalingGroupId,
          regionId: 'cn-hangzhou',
          minSize: 0,
          maxSize: 10,
          activityDurationMs: 150,
          vpcId: 'vpc-models',
          vSwitchIds: ['vsw-models-a', 'vsw-models-b'],
          tags: [{ key: 'team', value: 'platform', propagate: true }],
          loadBalancers: [{ id: 'lb-models', status: 'Active' }],
          dbInstances: [{ id: 'rm-models', status: 'Running' }],
          vServerGroups: [{ loadBalancerId: 'lb-models', vServerGroupId: 'rsp-models', port: 80 }],
          albServerGroups: [{ albServerGroupId: 'sgp-models', port: 8080 }],
          activityOutcomes: [
            { status: 'Successful' },
            { status: 'Successful' },
            { status: 'Failed', message: 'told to fail' },
          ],
        },
      ],
      instances: instanceIds.map((instanceId) => ({ instanceId, scalingGroupId })),
    },
  });
  return { scalingGroupId, instanceIds };
}

describe.each([
  ['signature V3 (ACS3-HMAC-SHA256)', 'v3'],
  ['RPC signature 1.0', 'v2'],
] as const)('ESS 2022-02-22 through @alicloud/openapi-client, %s', (_name, algorithm) => {
  const { models, roots } = fixture.aliyun;
  const expectAsModel = (action: string, body: Record<string, unknown>) =>
    expect(departures(models, roots[action] as string, body, action)).toEqual([]);

  it('serves every action, each answer with every field of the SDK model, lists as plain arrays', async () => {
    const call = ess2022(algorithm);
    const { scalingGroupId, instanceIds } = await aFullEssGroup(4);
    const [first, second, third] = instanceIds as [string, string, string];

    const detached = await call('DetachInstances', { ScalingGroupId: scalingGroupId, InstanceIds: [first] });
    const running = await call('DescribeScalingActivities', {
      RegionId: 'cn-hangzhou',
      ScalingActivityIds: [detached.ScalingActivityId],
    });
    await settle();
    const removed = await call('RemoveInstances', {
      RegionId: 'cn-hangzhou',
      ScalingGroupId: scalingGroupId,
      InstanceIds: [second, 'i-not-in-the-group'],
      IgnoreInvalidInstance: true,
    });
    await settle();
    const vServer = await call('DetachVServerGroups', {
      RegionId: 'cn-hangzhou',
      ScalingGroupId: scalingGroupId,
      VServerGroups: [
        { LoadBalancerId: 'lb-models', VServerGroupAttributes: [{ VServerGroupId: 'rsp-models', Port: 80 }] },
      ],
    });
    const groups = await call('DescribeScalingGroups', {
      RegionId: 'cn-hangzhou',
      ScalingGroupIds: [scalingGroupId],
    });
    const alb = await call('DetachAlbServerGroups', {
      RegionId: 'cn-hangzhou',
      ScalingGroupId: scalingGroupId,
      AlbServerGroups: [{ AlbServerGroupId: 'sgp-models', Port: 8080 }],
      ForceDetach: true,
    });
    const instances = await call('DescribeScalingInstances', {
      RegionId: 'cn-hangzhou',
      ScalingGroupId: scalingGroupId,
      InstanceIds: [third],
    });
    await settle();
    const ended = await call('DescribeScalingActivities', {
      RegionId: 'cn-hangzhou',
      ScalingGroupId: scalingGroupId,
      PageSize: 50,
    });

    for (const [action, body] of [
      ['DetachInstances', detached],
      ['DescribeScalingActivities', running],
      ['RemoveInstances', removed],
      ['DetachVserverGroups', vServer],
      ['DescribeScalingGroups', groups],
      ['DetachAlbServerGroups', alb],
      ['DescribeScalingInstances', instances],
      ['DescribeScalingActivities', ended],
    ] as const)
      expectAsModel(action, body);
    const [runningActivity] = running.ScalingActivities as Record<string, unknown>[];
    expect(runningActivity).toMatchObject({ StatusCode: 'InProgress', EndTime: expect.any(String) });
    expect(removed.IgnoredInstances).toEqual([
      expect.objectContaining({ InstanceId: 'i-not-in-the-group', Code: 'InvalidInstanceId.NotFound' }),
    ]);
    expect((groups.ScalingGroups as unknown[]).length).toBe(1);
    expect((groups.ScalingGroups as Record<string, unknown>[])[0]).toMatchObject({
      VpcId: 'vpc-models',
      VSwitchIds: ['vsw-models-a', 'vsw-models-b'],
      Tags: [{ TagKey: 'team', TagValue: 'platform', Propagate: true }],
      VServerGroups: [
        { LoadBalancerId: 'lb-models', VServerGroupAttributes: [{ VServerGroupId: 'rsp-models' }] },
      ],
    });
    expect((instances.ScalingInstances as Record<string, unknown>[]).map((i) => i.InstanceId)).toEqual([
      third,
    ]);
    // RemoveInstances ignored an id (Warning); DetachAlbServerGroups was told to fail, so ErrorMessages has items.
    expect((ended.ScalingActivities as Record<string, unknown>[]).map((a) => a.StatusCode)).toEqual([
      'Successful',
      'Warning',
      'Failed',
    ]);
  });

  it('answers the same calls in 2014-08-28 with its wrapped lists', async () => {
    const call = ess2022(algorithm);
    const { scalingGroupId } = await aFullEssGroup(1);
    const client2014: EssCall = async (action, query) => {
      const client = new OpenApiClient(
        new openapi.Config({
          ...EMULATOR_KEY,
          endpoint: new URL(emulatorUrl).host,
          protocol: 'http',
          ...(algorithm === 'v2' && { signatureAlgorithm: 'v2' }),
        }),
      );
      return (
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
          new openapi.OpenApiRequest({ query }),
          {},
        )
      ).body;
    };

    const plain = await call('DescribeScalingGroups', {
      RegionId: 'cn-hangzhou',
      ScalingGroupIds: [scalingGroupId],
    });
    const wrapped = await client2014('DescribeScalingGroups', {
      RegionId: 'cn-hangzhou',
      'ScalingGroupId.1': scalingGroupId,
    });

    expect(Array.isArray(plain.ScalingGroups)).toBe(true);
    expect(wrapped.ScalingGroups).toMatchObject({
      ScalingGroup: [
        { ScalingGroupId: scalingGroupId, VSwitchIds: { VSwitchId: ['vsw-models-a', 'vsw-models-b'] } },
      ],
    });
  });
});

describe('Tencent AS API 3.0 through tencentcloud-sdk-nodejs', () => {
  const { models, roots } = fixture.tencent;
  // An activity still running has no end time yet: API 3.0 answers null for a value it does not have.
  const nullable = new Set(['Activity.EndTime']);
  const expectAsModel = (action: string, body: unknown) =>
    expect(departures(models, roots[action] as string, body, action, nullable)).toEqual([]);

  it('answers every action with every field of the SDK model', async () => {
    const sdk = tencentSdk(emulatorUrl, 'ap-guangzhou', TENCENT_KEY);
    const groupId = `asg-${uniqueId('m').replace(/[^a-z0-9]/g, '')}`;
    const instanceIds = [1, 2, 3].map(() => `ins-${uniqueId('m').replace(/[^a-z0-9]/g, '')}`);
    await admin.add({
      tencent: {
        groups: [
          {
            autoScalingGroupId: groupId,
            region: 'ap-guangzhou',
            minSize: 0,
            maxSize: 10,
            activityDurationMs: 150,
            vpcId: 'vpc-tencent-models',
            subnetIds: ['subnet-models'],
            tags: [{ key: 'team', value: 'platform' }],
            zones: ['ap-guangzhou-3'],
          },
        ],
        instances: instanceIds.map((instanceId) => ({ instanceId, autoScalingGroupId: groupId })),
      },
    });

    const detached = await sdk.DetachInstances({
      AutoScalingGroupId: groupId,
      InstanceIds: [instanceIds[0] as string],
    });
    const running = await sdk.DescribeAutoScalingActivities({ ActivityIds: [detached.ActivityId as string] });
    await settle();
    const removed = await sdk.RemoveInstances({
      AutoScalingGroupId: groupId,
      InstanceIds: [instanceIds[1] as string],
    });
    await settle();
    const ended = await sdk.DescribeAutoScalingActivities({
      ActivityIds: [detached.ActivityId as string, removed.ActivityId as string],
    });
    const groups = await sdk.DescribeAutoScalingGroups({ AutoScalingGroupIds: [groupId] });
    const instances = await sdk.DescribeAutoScalingInstances({ InstanceIds: [instanceIds[2] as string] });

    for (const [action, body] of [
      ['DetachInstances', detached],
      ['DescribeAutoScalingActivities', running],
      ['RemoveInstances', removed],
      ['DescribeAutoScalingActivities', ended],
      ['DescribeAutoScalingGroups', groups],
      ['DescribeAutoScalingInstances', instances],
    ] as const)
      expectAsModel(action, body);
    expect(running.ActivitySet?.[0]?.EndTime).toBeNull();
    expect(['INIT', 'RUNNING']).toContain(running.ActivitySet?.[0]?.StatusCode);
    expect(ended.ActivitySet?.map((a) => a.EndTime)).toEqual([expect.any(String), expect.any(String)]);
    expect(groups.AutoScalingGroupSet?.[0]).toMatchObject({
      VpcId: 'vpc-tencent-models',
      SubnetIdSet: ['subnet-models'],
      Tags: [{ Key: 'team', Value: 'platform' }],
    });
  });
});
