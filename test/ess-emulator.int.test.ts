import RPCClient from '@alicloud/pop-core';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { EssClient } from '../shared/providers/aliyun/ess-client.ts';
import { canonicalQuery, rpcTimestamp, signRpc } from '../shared/providers/aliyun/rpc-signer.ts';
import { createHttpAgent } from '../shared/providers/http.ts';
import {
  aScalingGroup,
  EMULATOR_KEY,
  EMULATOR_ROOT_KEY,
  EmulatorAdmin,
  READONLY_KEY,
  uniqueId,
} from '../support/emulator-admin.ts';
import { failure } from './support/failure.ts';

const emulatorUrl = inject('stack').endpoints.emulator;
const admin = new EmulatorAdmin(emulatorUrl);
const httpAgent = createHttpAgent();
afterAll(() => httpAgent.close());

const essClient = (key = EMULATOR_KEY, overrides: { now?: () => Date; nonce?: () => string } = {}) =>
  new EssClient({ credentials: async () => key, httpAgent, endpointOverride: emulatorUrl, ...overrides });

const popCore = (key = EMULATOR_KEY) =>
  new RPCClient({ ...key, endpoint: emulatorUrl, apiVersion: '2014-08-28' });

describe('ESS DetachInstances in the emulator, through our EssClient', () => {
  it('detaches, reports the activity, and the instances leave the group when it ends', async () => {
    const group = await aScalingGroup(admin, { instances: 3, activityDurationMs: 200 });
    const client = essClient();

    const { scalingActivityId } = await client.detachInstances({
      region: group.region,
      scalingGroupId: group.scalingGroupId,
      instanceIds: group.instanceIds.slice(0, 2),
    });
    const [running] = await client.describeScalingActivities(group.region, [scalingActivityId as string]);
    await new Promise((resolve) => setTimeout(resolve, 300));
    const [ended] = await client.describeScalingActivities(group.region, [scalingActivityId as string]);
    const members = await client.describeScalingInstances(group.region, group.scalingGroupId);

    expect(running?.StatusCode).toBe('InProgress');
    expect(ended).toMatchObject({ StatusCode: 'Successful', Progress: 100 });
    expect(members.map((m) => m.InstanceId)).toEqual([group.instanceIds[2]]);
  });

  // The eight error codes of the seed (aliyun-ess-DetachInstances.md), each from the state that causes it.
  it.each([
    ['IncorrectScalingGroupStatus', 400, 'fatal', { lifecycleState: 'Inactive' as const }],
    ['IncorrectLoadBalancerStatus', 400, 'busy', { loadBalancers: [{ id: 'lb-1', status: 'Inactive' }] }],
    ['IncorrectDBInstanceStatus', 400, 'busy', { dbInstances: [{ id: 'rm-1', status: 'Stopped' }] }],
    ['IncorrectCapacity.MinSize', 400, 'fatal', { minSize: 2 }],
  ])('%s (HTTP %i) is classified %s', async (code, status, kind, options) => {
    const group = await aScalingGroup(admin, { instances: 3, ...options });

    const error = await failure(
      essClient().detachInstances({
        region: group.region,
        scalingGroupId: group.scalingGroupId,
        instanceIds: group.instanceIds.slice(0, 2),
      }),
    );

    expect({ code: error.code, status: error.httpStatus, kind: error.kind }).toEqual({ code, status, kind });
  });

  it('ScalingActivityInProgress (400) while an activity runs is busy', async () => {
    const group = await aScalingGroup(admin, { instances: 3, activityDurationMs: 5000 });
    await essClient().detachInstances({
      region: group.region,
      scalingGroupId: group.scalingGroupId,
      instanceIds: [group.instanceIds[0] as string],
    });

    const error = await failure(
      essClient().detachInstances({
        region: group.region,
        scalingGroupId: group.scalingGroupId,
        instanceIds: [group.instanceIds[1] as string],
      }),
    );

    expect([error.code, error.httpStatus, error.kind]).toEqual(['ScalingActivityInProgress', 400, 'busy']);
  });

  it('Forbidden.Unauthorized (403) for a key without the permission is fatal', async () => {
    const group = await aScalingGroup(admin);

    const error = await failure(
      essClient(READONLY_KEY).detachInstances({
        region: group.region,
        scalingGroupId: group.scalingGroupId,
        instanceIds: [group.instanceIds[0] as string],
      }),
    );

    expect([error.code, error.httpStatus, error.kind]).toEqual(['Forbidden.Unauthorized', 403, 'fatal']);
  });

  it('InvalidScalingGroupId.NotFound (404) and InvalidInstanceId.NotFound (404) are fatal', async () => {
    const group = await aScalingGroup(admin);
    const client = essClient();

    const noGroup = await failure(
      client.detachInstances({ region: group.region, scalingGroupId: 'asg-missing', instanceIds: ['i-1'] }),
    );
    const noInstance = await failure(
      client.detachInstances({
        region: group.region,
        scalingGroupId: group.scalingGroupId,
        instanceIds: ['i-missing'],
      }),
    );

    expect([noGroup.code, noGroup.httpStatus, noGroup.kind]).toEqual([
      'InvalidScalingGroupId.NotFound',
      404,
      'fatal',
    ]);
    expect([noInstance.code, noInstance.httpStatus, noInstance.kind, noInstance.message]).toEqual([
      'InvalidInstanceId.NotFound',
      404,
      'fatal',
      'Instance "i-missing" does not exist.',
    ]);
  });

  it('IgnoreInvalidInstance skips unknown ids and the activity ends Warning', async () => {
    const group = await aScalingGroup(admin, { activityDurationMs: 50 });
    const client = essClient();

    const { scalingActivityId } = await client.detachInstances({
      region: group.region,
      scalingGroupId: group.scalingGroupId,
      instanceIds: [group.instanceIds[0] as string, 'i-unknown'],
      ignoreInvalidInstance: true,
    });
    await new Promise((resolve) => setTimeout(resolve, 100));
    const [activity] = await client.describeScalingActivities(group.region, [scalingActivityId as string]);

    expect(activity?.StatusCode).toBe('Warning');
    expect(activity?.StatusMessage).toContain('i-unknown');
  });

  it('answers a repeated ClientToken with the first activity, and a changed request with IdempotentParameterMismatch', async () => {
    const group = await aScalingGroup(admin, { activityDurationMs: 5000 });
    const client = essClient();
    const token = uniqueId('token');
    const input = {
      region: group.region,
      scalingGroupId: group.scalingGroupId,
      instanceIds: [group.instanceIds[0] as string],
      clientToken: token,
    };

    const first = await client.detachInstances(input);
    const again = await client.detachInstances(input);
    const changed = await failure(
      client.detachInstances({ ...input, instanceIds: [group.instanceIds[1] as string] }),
    );

    expect(again.scalingActivityId).toBe(first.scalingActivityId);
    expect(changed.code).toBe('IdempotentParameterMismatch');
    expect(
      (await admin.state()).aliyun.activities.filter((a) => a.scalingGroupId === group.scalingGroupId),
    ).toHaveLength(1);
  });

  it('scopes a ClientToken to the account, not the key: a repeat signed with another key of the account is the same call', async () => {
    // As after a refresh of temporary credentials: the key id changes, the account does not.
    const group = await aScalingGroup(admin, { activityDurationMs: 5000 });
    const input = {
      region: group.region,
      scalingGroupId: group.scalingGroupId,
      instanceIds: [group.instanceIds[0] as string],
      clientToken: uniqueId('token'),
    };

    const first = await essClient(EMULATOR_KEY).detachInstances(input);
    const again = await essClient(EMULATOR_ROOT_KEY).detachInstances(input);

    expect(again.scalingActivityId).toBe(first.scalingActivityId);
    expect(
      (await admin.state()).aliyun.activities.filter((a) => a.scalingGroupId === group.scalingGroupId),
    ).toHaveLength(1);
  });

  it('reads groups with their capacity, and describes up to 20 activities in one call', async () => {
    const group = await aScalingGroup(admin, { instances: 4, minSize: 1 });
    const client = essClient();

    const [described] = await client.describeScalingGroups(group.region, [group.scalingGroupId]);
    const tooMany = await failure(
      client.describeScalingActivities(
        group.region,
        Array.from({ length: 21 }, (_, i) => `asa-${i}`),
      ),
    );

    expect(described).toMatchObject({
      ScalingGroupId: group.scalingGroupId,
      LifecycleState: 'Active',
      MinSize: 1,
      TotalCapacity: 4,
    });
    expect(tooMany.code).toBe('InvalidParameter');
  });
});

describe('ESS signature checks in the emulator', () => {
  let group: Awaited<ReturnType<typeof aScalingGroup>>;
  beforeAll(async () => {
    group = await aScalingGroup(admin);
  });

  /** Sends a DescribeScalingGroups signed as given, and returns the error code the emulator answers with. */
  async function codeFor(
    mutate: (params: Record<string, string>) => { params: Record<string, string>; secret?: string },
  ) {
    const base: Record<string, string> = {
      Action: 'DescribeScalingGroups',
      Version: '2014-08-28',
      Format: 'JSON',
      RegionId: group.region,
      AccessKeyId: EMULATOR_KEY.accessKeyId,
      SignatureMethod: 'HMAC-SHA1',
      SignatureVersion: '1.0',
      SignatureNonce: uniqueId('nonce'),
      Timestamp: rpcTimestamp(new Date()),
    };
    const { params, secret } = mutate(base);
    const signature = signRpc('POST', params, secret ?? EMULATOR_KEY.accessKeySecret);
    const response = await request(`${emulatorUrl}/`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: `${canonicalQuery({ ...params, Signature: signature })}`,
    });
    const body = (await response.body.json()) as { Code?: string };
    return { status: response.statusCode, code: body.Code };
  }

  it('accepts a correct signature', async () => {
    expect(await codeFor((params) => ({ params }))).toEqual({ status: 200, code: undefined });
  });

  it('refuses a wrong secret with SignatureDoesNotMatch', async () => {
    expect(await codeFor((params) => ({ params, secret: 'wrong' }))).toEqual({
      status: 400,
      code: 'SignatureDoesNotMatch',
    });
  });

  it('echoes its string to sign with SignatureDoesNotMatch, as ESS does, and our client scrubs it', async () => {
    const raw = (await popCore({ ...EMULATOR_KEY, accessKeySecret: 'wrong' })
      .request('DescribeScalingGroups', { RegionId: group.region }, { method: 'POST' })
      .catch((e: unknown) => e)) as { message: string };
    const ours = await failure(
      essClient({ ...EMULATOR_KEY, accessKeySecret: 'wrong' }).describeScalingGroups(group.region, []),
    );

    expect(raw.message).toContain('server string to sign is:POST&%2F&AccessKeyId%3DLTAI-emulator-key');
    expect(ours.code).toBe('SignatureDoesNotMatch');
    expect(ours.message).toBe(
      'Specified signature is not matched with our calculation. [redacted] (string to sign)',
    );
  });

  it('refuses an unknown key with InvalidAccessKeyId.NotFound', async () => {
    expect(await codeFor((params) => ({ params: { ...params, AccessKeyId: 'LTAI-nobody' } }))).toEqual({
      status: 404,
      code: 'InvalidAccessKeyId.NotFound',
    });
  });

  it('refuses a timestamp more than 15 minutes off with InvalidTimeStamp.Expired', async () => {
    const stale = rpcTimestamp(new Date(Date.now() - 16 * 60 * 1000));
    expect(await codeFor((params) => ({ params: { ...params, Timestamp: stale } }))).toEqual({
      status: 400,
      code: 'InvalidTimeStamp.Expired',
    });
  });

  it('refuses a reused nonce with SignatureNonceUsed', async () => {
    const nonce = uniqueId('nonce');
    await codeFor((params) => ({ params: { ...params, SignatureNonce: nonce } }));
    expect(await codeFor((params) => ({ params: { ...params, SignatureNonce: nonce } }))).toEqual({
      status: 400,
      code: 'SignatureNonceUsed',
    });
  });

  it('our client retries a reused nonce as transient (a new attempt signs with a new one)', async () => {
    const client = essClient(EMULATOR_KEY, { nonce: () => 'fixed-nonce-for-test' });
    await client.describeScalingGroups(group.region, [group.scalingGroupId]).catch(() => undefined);

    const error = await failure(client.describeScalingGroups(group.region, [group.scalingGroupId]));

    expect([error.code, error.kind]).toEqual(['SignatureNonceUsed', 'transient']);
  });
});

describe('@alicloud/pop-core as a client of the emulator', () => {
  it('detaches over POST and describes over GET, JSON', async () => {
    const group = await aScalingGroup(admin);
    const client = popCore();

    const detached = (await client.request(
      'DetachInstances',
      { RegionId: group.region, ScalingGroupId: group.scalingGroupId, InstanceId: [group.instanceIds[0]] },
      { method: 'POST' },
    )) as { ScalingActivityId: string };
    const described = (await client.request(
      'DescribeScalingActivities',
      { RegionId: group.region, ScalingActivityId: [detached.ScalingActivityId] },
      { method: 'GET' },
    )) as { ScalingActivities: { ScalingActivity: { ScalingActivityId: string }[] } };
    const instances = (await client.request(
      'DescribeScalingInstances',
      { RegionId: group.region, ScalingGroupId: group.scalingGroupId },
      { method: 'POST' },
    )) as { TotalCount: number };

    expect(described.ScalingActivities.ScalingActivity[0]?.ScalingActivityId).toBe(
      detached.ScalingActivityId,
    );
    expect(instances.TotalCount).toBe(3);
  });

  it('sees the seed error codes as pop-core errors', async () => {
    const group = await aScalingGroup(admin, { minSize: 3 });

    const error = (await popCore()
      .request(
        'DetachInstances',
        { RegionId: group.region, ScalingGroupId: group.scalingGroupId, InstanceId: [group.instanceIds[0]] },
        { method: 'POST' },
      )
      .catch((e: unknown) => e)) as { code?: string };

    expect(error.code).toBe('IncorrectCapacity.MinSize');
  });

  it('answers in XML when Format=XML', async () => {
    const group = await aScalingGroup(admin);
    const params: Record<string, string> = {
      Action: 'DescribeScalingGroups',
      Version: '2014-08-28',
      Format: 'XML',
      RegionId: group.region,
      'ScalingGroupId.1': group.scalingGroupId,
      AccessKeyId: EMULATOR_KEY.accessKeyId,
      SignatureMethod: 'HMAC-SHA1',
      SignatureVersion: '1.0',
      SignatureNonce: uniqueId('nonce'),
      Timestamp: rpcTimestamp(new Date()),
    };
    const query = canonicalQuery({
      ...params,
      Signature: signRpc('GET', params, EMULATOR_KEY.accessKeySecret),
    });

    const response = await request(`${emulatorUrl}/?${query}`);
    const xml = await response.body.text();

    expect(response.headers['content-type']).toContain('xml');
    expect(xml).toContain('<DescribeScalingGroupsResponse>');
    expect(xml).toContain(`<ScalingGroup><ScalingGroupId>${group.scalingGroupId}</ScalingGroupId>`);
  });
});

describe('injected faults', () => {
  it('a 503 is transient, throttling is throttled, a dropped connection is a transient network error', async () => {
    const group = await aScalingGroup(admin);
    const client = essClient();
    const input = {
      region: group.region,
      scalingGroupId: group.scalingGroupId,
      instanceIds: [group.instanceIds[0] as string],
    };
    await admin.inject(
      { scalingGroupId: group.scalingGroupId, error: { code: 'ServiceUnavailable', httpStatus: 503 } },
      { scalingGroupId: group.scalingGroupId, error: { code: 'Throttling.User', httpStatus: 400 } },
      { scalingGroupId: group.scalingGroupId, drop: 'before' },
    );

    const unavailable = await failure(client.detachInstances(input));
    const throttled = await failure(client.detachInstances(input));
    const dropped = await failure(client.detachInstances(input));

    expect([unavailable.code, unavailable.kind]).toEqual(['ServiceUnavailable', 'transient']);
    expect([throttled.code, throttled.kind]).toEqual(['Throttling.User', 'throttled']);
    expect(dropped.kind).toBe('transient');
    expect(dropped.code).toMatch(/^Network\./);
  });

  it('an answer slower than the response timeout is a transient network error', async () => {
    const group = await aScalingGroup(admin);
    const impatient = createHttpAgent({
      connectTimeoutMs: 1000,
      responseTimeoutMs: 100,
      connectionsPerOrigin: 1,
    });
    const client = new EssClient({
      credentials: async () => EMULATOR_KEY,
      httpAgent: impatient,
      endpointOverride: emulatorUrl,
    });
    await admin.inject({
      scalingGroupId: group.scalingGroupId,
      action: 'DescribeScalingInstances',
      latencyMs: 2500,
    });

    const error = await failure(client.describeScalingInstances(group.region, group.scalingGroupId));
    await impatient.close();

    expect(error.kind).toBe('transient');
    expect(error.code).toBe('Network.UND_ERR_HEADERS_TIMEOUT');
  });
});

describe('ESS signature V3 (ACS3-HMAC-SHA256) in the emulator, through our EssClient', () => {
  const v3Client = (key = EMULATOR_KEY, overrides: { now?: () => Date; nonce?: () => string } = {}) =>
    new EssClient({
      credentials: async () => key,
      httpAgent,
      endpointOverride: emulatorUrl,
      signatureVersion: 'v3',
      ...overrides,
    });

  it('detaches and follows the activity with every call signed V3', async () => {
    const group = await aScalingGroup(admin, { instances: 2, activityDurationMs: 50 });
    const client = v3Client();

    const { scalingActivityId } = await client.detachInstances({
      region: group.region,
      scalingGroupId: group.scalingGroupId,
      instanceIds: [group.instanceIds[0] as string],
      clientToken: uniqueId('token'),
    });
    await new Promise((resolve) => setTimeout(resolve, 150));
    const [activity] = await client.describeScalingActivities(group.region, [scalingActivityId as string]);
    const members = await client.describeScalingInstances(group.region, group.scalingGroupId);

    expect(activity?.StatusCode).toBe('Successful');
    expect(members.map((m) => m.InstanceId)).toEqual([group.instanceIds[1]]);
    const [sent] = await admin.calls({ action: 'DetachInstances', scalingGroupId: group.scalingGroupId });
    expect(sent?.params.SignatureVersion).toBeUndefined();
  });

  it('refuses a wrong secret, an unknown key, a skewed date and a reused nonce as the service does', async () => {
    const group = await aScalingGroup(admin);
    const codeOf = (client: EssClient) =>
      failure(client.describeScalingGroups(group.region, [group.scalingGroupId])).then((e) => e.code);
    const nonce = uniqueId('nonce');
    await v3Client(EMULATOR_KEY, { nonce: () => nonce }).describeScalingGroups(group.region, []);

    expect(await codeOf(v3Client({ ...EMULATOR_KEY, accessKeySecret: 'wrong' }))).toBe(
      'SignatureDoesNotMatch',
    );
    expect(await codeOf(v3Client({ accessKeyId: 'LTAI-nobody', accessKeySecret: 'x' }))).toBe(
      'InvalidAccessKeyId.NotFound',
    );
    expect(await codeOf(v3Client(EMULATOR_KEY, { now: () => new Date(Date.now() - 16 * 60_000) }))).toBe(
      'InvalidTimeStamp.Expired',
    );
    expect(await codeOf(v3Client(EMULATOR_KEY, { nonce: () => nonce }))).toBe('SignatureNonceUsed');
    await expect(
      v3Client(READONLY_KEY).describeScalingGroups(group.region, [group.scalingGroupId]),
    ).resolves.toHaveLength(1);
  });

  it("refuses an x-acs-* header left out of SignedHeaders, and a content hash that is not the body's", async () => {
    const { signAcs3, acs3Date } = await import('../shared/providers/aliyun/acs3-signer.ts');
    const host = new URL(emulatorUrl).host;
    const send = async (options: {
      body: string;
      extraUnsigned?: Record<string, string>;
      lieAboutHash?: boolean;
    }) => {
      const signed = signAcs3({
        method: 'POST',
        query: { RegionId: 'cn-hangzhou' },
        headers: {
          host,
          'x-acs-action': 'DescribeScalingGroups',
          'x-acs-version': '2014-08-28',
          'x-acs-date': acs3Date(new Date()),
          'x-acs-signature-nonce': uniqueId('nonce'),
          ...(options.lieAboutHash && {
            'x-acs-content-sha256': 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
          }),
        },
        body: options.body,
        ...EMULATOR_KEY,
      });
      const { host: _host, ...headers } = signed.headers;
      const response = await request(`${emulatorUrl}/?RegionId=cn-hangzhou`, {
        method: 'POST',
        headers: { ...headers, ...options.extraUnsigned },
        body: options.body,
      });
      return ((await response.body.json()) as { Code?: string }).Code;
    };

    expect(await send({ body: '' })).toBeUndefined();
    expect(await send({ body: '', extraUnsigned: { 'x-acs-extra': 'x' } })).toBe('IncompleteSignature');
    expect(await send({ body: 'RegionId=cn-hangzhou', lieAboutHash: true })).toBe('SignatureDoesNotMatch');
  });
});

describe('ESS instance states and repeated ids', () => {
  it('counts an id named twice once against MinSize, and takes the instance out once', async () => {
    const group = await aScalingGroup(admin, { instances: 2, minSize: 1, activityDurationMs: 50 });
    const id = group.instanceIds[0] as string;

    const { scalingActivityId } = await essClient().detachInstances({
      region: group.region,
      scalingGroupId: group.scalingGroupId,
      instanceIds: [id, id],
    });

    const activity = (await admin.state()).aliyun.activities.find((a) => a.id === scalingActivityId);
    expect(activity?.instanceIds).toEqual([id]);
  });

  it.each(['Pending', 'Pending:Wait', 'Removing', 'Removing:Wait'])(
    'refuses an instance in %s, as the state table says',
    async (lifecycleState) => {
      const group = await aScalingGroup(admin, { instances: 2 });
      const id = group.instanceIds[0] as string;
      await admin.add({
        aliyun: {
          instances: [
            { instanceId: id, scalingGroupId: group.scalingGroupId, lifecycleState: lifecycleState as never },
          ],
        },
      });

      const refused = await failure(
        essClient().detachInstances({
          region: group.region,
          scalingGroupId: group.scalingGroupId,
          instanceIds: [id],
        }),
      );

      expect(refused.code).toBe('IncorrectInstanceStatus');
    },
  );

  it.each(['Standby', 'Protected', 'Stopped'])('takes an instance in %s', async (lifecycleState) => {
    const group = await aScalingGroup(admin, { instances: 2 });
    const id = group.instanceIds[0] as string;
    await admin.add({
      aliyun: {
        instances: [
          { instanceId: id, scalingGroupId: group.scalingGroupId, lifecycleState: lifecycleState as never },
        ],
      },
    });

    const { scalingActivityId } = await essClient().detachInstances({
      region: group.region,
      scalingGroupId: group.scalingGroupId,
      instanceIds: [id],
    });

    expect(scalingActivityId).toMatch(/^asa-/);
  });
});
