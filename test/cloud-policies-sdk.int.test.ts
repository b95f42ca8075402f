/**
 * The clouds' own clients against the emulator's default seed (its member accounts, roles, trust policies and the
 * policies of docs/policies/): @alicloud/credentials' RAM role ARN provider with the deployment's keys, then
 * @alicloud/pop-core and @alicloud/openapi-client with the role's credentials; tencentcloud-sdk-nodejs' STS client,
 * then its AS client. A call outside the role's policy is refused with the cloud's code naming the action, and the
 * credentials end on the emulator's clock, whose lifetime the seed shortens (`sts.lifetimeSeconds`).
 */
import { readFileSync } from 'node:fs';
import * as alicloudCredentials from '@alicloud/credentials';
import { doRequest } from '@alicloud/credentials/dist/src/providers/http.js';
import * as openapi from '@alicloud/openapi-client';
import RPCClient from '@alicloud/pop-core';
import * as tencentSts from 'tencentcloud-sdk-nodejs/tencentcloud/services/sts/index.js';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ADMIN_TOKEN_HEADER,
  type CloudEmulator,
  DEFAULT_ADMIN_TOKEN,
  DEFAULT_SEED_PATH,
  startEmulator,
} from '../emulator/server.ts';
import { tencentSdk } from '../support/tencent.ts';

const DEPLOYMENT_ALIYUN = { accessKeyId: 'LTAI-emulator-key', accessKeySecret: 'emulator-secret' };
const DEPLOYMENT_TENCENT = { secretId: 'AKIDemulatorTencentKey', secretKey: 'emulator-tencent-secret' };
const SHOP_PROD_ROLE = 'acs:ram::1000000000000002:role/scaling-detach';
const GAMES_PROD_ROLE = 'qcs::cam::uin/100000000002:roleName/scaling-detach';
/** Shorter than anything either client asks for: the seed's knob wins over DurationSeconds. */
const LIFETIME_SECONDS = 120;

// The package is CommonJS: its providers are named exports, or under default, depending on the loader.
const credentialsModule = (
  'RAMRoleARNCredentialsProvider' in alicloudCredentials
    ? alicloudCredentials
    : (alicloudCredentials as { default: unknown }).default
) as typeof alicloudCredentials;
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

let emulator: CloudEmulator;
let url: string;

async function admin(method: 'GET' | 'POST', path: string, body?: unknown) {
  const response = await request(`${url}${path}`, {
    method,
    headers: {
      [ADMIN_TOKEN_HEADER]: DEFAULT_ADMIN_TOKEN,
      ...(body !== undefined && { 'content-type': 'application/json' }),
    },
    ...(body !== undefined && { body: JSON.stringify(body) }),
  });
  return (await response.body.json()) as Record<string, unknown>;
}

beforeAll(async () => {
  emulator = await startEmulator();
  url = emulator.url;
  // The default seed, its token lifetime shortened by the seed's own knob.
  const seed = JSON.parse(readFileSync(DEFAULT_SEED_PATH, 'utf8')) as Record<string, unknown>;
  expect(
    (await admin('POST', '/admin/seed', { ...seed, sts: { lifetimeSeconds: LIFETIME_SECONDS } })).ok,
  ).toBe(true);
});
afterAll(async () => {
  await emulator.close();
});

/** @alicloud/credentials' RAM role ARN provider, the deployment's keys as its source (over http to the emulator). */
function ramRoleArnProvider(externalId: string) {
  const provider = credentialsModule.RAMRoleARNCredentialsProvider.builder()
    .withCredentialsProvider(
      credentialsModule.StaticAKCredentialsProvider.builder()
        .withAccessKeyId(DEPLOYMENT_ALIYUN.accessKeyId)
        .withAccessKeySecret(DEPLOYMENT_ALIYUN.accessKeySecret)
        .build(),
    )
    .withRoleArn(SHOP_PROD_ROLE)
    .withRoleSessionName('sdk-session')
    .withDurationSeconds(3600)
    .withStsEndpoint(new URL(url).host)
    .withExternalId(externalId)
    .build();
  // The provider's own seam for its transport ("used for mock" in its source): the same request, over http.
  (provider as unknown as { doRequest: typeof doRequest }).doRequest = (req) =>
    doRequest(Object.assign(req, { protocol: 'http' }));
  return provider;
}

const issued = async (sessionName: string) =>
  ((await admin('GET', '/admin/sts')).credentials as { sessionName: string; expiresAt: string }[]).filter(
    (c) => c.sessionName === sessionName,
  );

describe('Alibaba: the RAM role ARN provider, then pop-core and openapi-client in the member account', () => {
  it('acts in shop-prod with the role’s policy: its group is there, a call outside the policy is Forbidden.RAM naming it, and the token ends on the emulator’s clock', async () => {
    const assumed = await ramRoleArnProvider('ext-shop-prod').getCredentials();
    expect(assumed.accessKeyId).toMatch(/^STS\./);
    const [credential] = await issued('sdk-session');
    // The seed's lifetime, not the 3600 s asked for.
    expect(Date.parse(credential?.expiresAt ?? '') - emulator.sts.now()).toBeLessThanOrEqual(
      LIFETIME_SECONDS * 1000,
    );

    const popCore = new RPCClient({
      accessKeyId: assumed.accessKeyId,
      accessKeySecret: assumed.accessKeySecret,
      securityToken: assumed.securityToken,
      endpoint: url,
      apiVersion: '2014-08-28',
    });
    const groups = (await popCore.request(
      'DescribeScalingGroups',
      { RegionId: 'cn-hangzhou', 'ScalingGroupId.1': 'asg-shopprod01' },
      { method: 'POST' },
    )) as { ScalingGroups: { ScalingGroup: { ScalingGroupId: string }[] } };
    expect(groups.ScalingGroups.ScalingGroup.map((g) => g.ScalingGroupId)).toEqual(['asg-shopprod01']);
    // The deployment's own group is another account's: not there.
    const own = (await popCore.request(
      'DescribeScalingGroups',
      { RegionId: 'cn-hangzhou', 'ScalingGroupId.1': 'asg-demo0001' },
      { method: 'POST' },
    )) as { ScalingGroups: { ScalingGroup: unknown[] } };
    expect(own.ScalingGroups.ScalingGroup).toEqual([]);

    const v3 = new OpenApiClient(
      new openapi.Config({
        accessKeyId: assumed.accessKeyId,
        accessKeySecret: assumed.accessKeySecret,
        securityToken: assumed.securityToken,
        endpoint: new URL(url).host,
        protocol: 'http',
        regionId: 'cn-hangzhou',
      }),
    );
    const params = (action: string) =>
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
      });
    const deleteGroup = new openapi.OpenApiRequest({
      query: { RegionId: 'cn-hangzhou', ScalingGroupId: 'asg-shopprod01' },
    });
    const refused = await v3
      .callApi(params('DeleteScalingGroup'), deleteGroup, { readTimeout: 5000, connectTimeout: 5000 })
      .catch((error: unknown) => error as { code: string; message: string });
    expect(refused).toMatchObject({ code: 'Forbidden.RAM' });
    expect((refused as { message: string }).message).toContain('ess:DeleteScalingGroup');

    await admin('POST', '/admin/sts/advance', { seconds: LIFETIME_SECONDS + 1 });
    await expect(
      popCore.request(
        'DescribeScalingGroups',
        { RegionId: 'cn-hangzhou', 'ScalingGroupId.1': 'asg-shopprod01' },
        { method: 'POST' },
      ),
    ).rejects.toMatchObject({ code: 'InvalidSecurityToken.Expired' });
  });

  it('refuses the role to the provider without the account’s external id (NoPermission)', async () => {
    await expect(ramRoleArnProvider('ext-shop-staging').getCredentials()).rejects.toThrow(/NoPermission/);
  });
});

describe('Tencent: the SDK’s STS client, then its AS client in the member account', () => {
  const sts = () =>
    new tencentSts.sts.v20180813.Client({
      credential: DEPLOYMENT_TENCENT,
      region: 'ap-guangzhou',
      profile: {
        httpProfile: { endpoint: new URL(url).host, protocol: 'http://', reqMethod: 'POST', reqTimeout: 5 },
      },
    });

  it('acts in games-prod with the role’s policy: a call outside it is AuthFailure.UnauthorizedOperation naming it, and the token ends', async () => {
    const assumed = await sts().AssumeRole({
      RoleArn: GAMES_PROD_ROLE,
      RoleSessionName: 'sdk-tencent-session',
      ExternalId: 'ext-games-prod',
      DurationSeconds: 7200,
    });
    expect((assumed.ExpiredTime ?? 0) * 1000 - emulator.sts.now()).toBeLessThanOrEqual(
      LIFETIME_SECONDS * 1000,
    );
    const { TmpSecretId, TmpSecretKey, Token } = assumed.Credentials ?? {};
    const as = tencentSdk(url, 'ap-guangzhou', {
      secretId: TmpSecretId,
      secretKey: TmpSecretKey,
      token: Token,
    } as never);
    const groups = await as.DescribeAutoScalingGroups({ AutoScalingGroupIds: ['asg-gamesprod1'] });
    expect(groups.AutoScalingGroupSet?.map((g) => g.AutoScalingGroupId)).toEqual(['asg-gamesprod1']);
    const other = await as.DescribeAutoScalingGroups({ AutoScalingGroupIds: ['asg-demo0002'] });
    expect(other.AutoScalingGroupSet).toEqual([]);

    const refused = await as
      .DeleteAutoScalingGroup({ AutoScalingGroupId: 'asg-gamesprod1' })
      .catch((error: unknown) => error as { code: string; message: string });
    expect(refused).toMatchObject({ code: 'AuthFailure.UnauthorizedOperation' });
    expect((refused as { message: string }).message).toContain('as:DeleteAutoScalingGroup');

    await admin('POST', '/admin/sts/advance', { seconds: LIFETIME_SECONDS + 1 });
    await expect(
      as.DescribeAutoScalingGroups({ AutoScalingGroupIds: ['asg-gamesprod1'] }),
    ).rejects.toMatchObject({ code: 'AuthFailure.TokenFailure' });
  });

  it('refuses the role without the account’s external id (AuthFailure.UnauthorizedOperation)', async () => {
    await expect(
      sts().AssumeRole({ RoleArn: GAMES_PROD_ROLE, RoleSessionName: 'sdk-tencent-session' }),
    ).rejects.toMatchObject({ code: 'AuthFailure.UnauthorizedOperation' });
  });
});
