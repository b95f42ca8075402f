/**
 * The emulator's STS (emulator/sts/), driven by the clouds' own clients: @alicloud/credentials' RAM role ARN
 * provider, then @alicloud/pop-core (RPC) and @alicloud/openapi-client (V3) with the temporary credentials;
 * tencentcloud-sdk-nodejs' STS client, then its AS client. Then ours (shared/accounts/member-accounts.ts) through
 * an expiry: one refresh, the call repeated. The emulator is this file's own (its STS clock is moved here).
 */
import * as alicloudCredentials from '@alicloud/credentials';
import { doRequest } from '@alicloud/credentials/dist/src/providers/http.js';
import * as openapi from '@alicloud/openapi-client';
import RPCClient from '@alicloud/pop-core';
import * as tencentSts from 'tencentcloud-sdk-nodejs/tencentcloud/services/sts/index.js';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EmulatorSeed } from '../emulator/seed.ts';
import {
  ADMIN_TOKEN_HEADER,
  type CloudEmulator,
  DEFAULT_ADMIN_TOKEN,
  startEmulator,
} from '../emulator/server.ts';
import { AccountRegistry } from '../shared/accounts/account-registry.ts';
import { MemberAccounts } from '../shared/accounts/member-accounts.ts';
import { EssClient } from '../shared/providers/aliyun/ess-client.ts';
import { AliyunStsClient } from '../shared/providers/aliyun/sts-client.ts';
import { createHttpAgent } from '../shared/providers/http.ts';
import { TencentAsClient } from '../shared/providers/tencent/as-client.ts';
import { TencentStsClient } from '../shared/providers/tencent/sts-client.ts';
import { tencentSdk } from '../support/tencent.ts';

const ALIYUN_PRINCIPAL = {
  accessKeyId: 'LTAIdeploymentPrincipal',
  accessKeySecret: 'deployment-principal-secret',
};
const TENCENT_PRINCIPAL = {
  secretId: 'AKIDdeploymentPrincipal',
  secretKey: 'deployment-principal-tc-secret',
};
const ALIYUN_ROLE = 'acs:ram::1234567890123456:role/scaling-detach';
const TENCENT_ROLE = 'qcs::cam::uin/100012345678:roleName/scaling-detach';

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
const httpAgent = createHttpAgent();

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
  emulator = await startEmulator({
    seed: EmulatorSeed.parse({
      credentials: [
        ALIYUN_PRINCIPAL,
        { accessKeyId: TENCENT_PRINCIPAL.secretId, accessKeySecret: TENCENT_PRINCIPAL.secretKey },
        { accessKeyId: 'LTAIstranger', accessKeySecret: 'stranger-secret' },
      ],
      aliyun: {
        scalingGroups: [{ scalingGroupId: 'asg-member', regionId: 'cn-hangzhou', minSize: 0, maxSize: 10 }],
        instances: [{ instanceId: 'i-member1', scalingGroupId: 'asg-member' }],
      },
      tencent: {
        groups: [{ autoScalingGroupId: 'asg-tcmember', region: 'ap-guangzhou', minSize: 0, maxSize: 10 }],
        instances: [{ instanceId: 'ins-member1', autoScalingGroupId: 'asg-tcmember' }],
      },
    }),
  });
  url = emulator.url;
  await admin('POST', '/admin/sts/roles', [
    {
      cloud: 'aliyun',
      roleArn: ALIYUN_ROLE,
      externalId: 'ext-shop',
      principals: [ALIYUN_PRINCIPAL.accessKeyId],
    },
    {
      cloud: 'tencent',
      roleArn: TENCENT_ROLE,
      externalId: 'ext-games',
      principals: [TENCENT_PRINCIPAL.secretId],
    },
  ]);
});
afterAll(async () => {
  await emulator.close();
});

/** @alicloud/credentials' RAM role ARN provider pointed at the emulator (it always speaks https: its request is sent over http). */
function ramRoleArnProvider(options: { externalId?: string; principal?: typeof ALIYUN_PRINCIPAL } = {}) {
  const principal = options.principal ?? ALIYUN_PRINCIPAL;
  const provider = credentialsModule.RAMRoleARNCredentialsProvider.builder()
    .withCredentialsProvider(
      credentialsModule.StaticAKCredentialsProvider.builder()
        .withAccessKeyId(principal.accessKeyId)
        .withAccessKeySecret(principal.accessKeySecret)
        .build(),
    )
    .withRoleArn(ALIYUN_ROLE)
    .withRoleSessionName('sdk-session')
    .withDurationSeconds(900)
    .withStsEndpoint(new URL(url).host)
    .withExternalId(options.externalId ?? 'ext-shop')
    .build();
  // The provider's own seam for its transport ("used for mock" in its source): the same request, over http.
  (provider as unknown as { doRequest: typeof doRequest }).doRequest = (req) =>
    doRequest(Object.assign(req, { protocol: 'http' }));
  return provider;
}

const describeGroups = { RegionId: 'cn-hangzhou', 'ScalingGroupId.1': 'asg-member' };

describe('Alibaba: @alicloud/credentials (RAM role ARN) against the emulator STS', () => {
  it('assumes the role, and pop-core (RPC, SecurityToken) and openapi-client (V3, x-acs-security-token) act with it', async () => {
    const assumed = await ramRoleArnProvider().getCredentials();
    expect(assumed.accessKeyId).toMatch(/^STS\./);
    expect(assumed.securityToken).toBeTruthy();

    const popCore = new RPCClient({
      accessKeyId: assumed.accessKeyId,
      accessKeySecret: assumed.accessKeySecret,
      securityToken: assumed.securityToken,
      endpoint: url,
      apiVersion: '2014-08-28',
    });
    const groups = (await popCore.request('DescribeScalingGroups', describeGroups, { method: 'POST' })) as {
      ScalingGroups: { ScalingGroup: { ScalingGroupId: string }[] };
    };
    expect(groups.ScalingGroups.ScalingGroup.map((g) => g.ScalingGroupId)).toEqual(['asg-member']);

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
    const answer = await v3.callApi(
      new openapi.Params({
        action: 'DescribeScalingGroups',
        version: '2014-08-28',
        protocol: 'HTTP',
        pathname: '/',
        method: 'POST',
        authType: 'AK',
        style: 'RPC',
        reqBodyType: 'formData',
        bodyType: 'json',
      }),
      new openapi.OpenApiRequest({ query: describeGroups }),
      { readTimeout: 5000, connectTimeout: 5000 },
    );
    expect(answer.body.ScalingGroups).toEqual(groups.ScalingGroups);

    // The same key without its token, and with another key's token, is refused with the cloud's codes.
    const { securityToken: _token, ...withoutToken } = assumed;
    const bare = new RPCClient({ ...withoutToken, endpoint: url, apiVersion: '2014-08-28' });
    await expect(
      bare.request('DescribeScalingGroups', describeGroups, { method: 'POST' }),
    ).rejects.toMatchObject({
      code: 'MissingSecurityToken',
    });
    const other = await ramRoleArnProvider().getCredentials();
    const mixed = new RPCClient({
      ...withoutToken,
      securityToken: other.securityToken,
      endpoint: url,
      apiVersion: '2014-08-28',
    });
    await expect(
      mixed.request('DescribeScalingGroups', describeGroups, { method: 'POST' }),
    ).rejects.toMatchObject({
      code: 'InvalidSecurityToken.MismatchWithAccessKey',
    });
  });

  it('expires the credentials on its own clock: InvalidSecurityToken.Expired', async () => {
    const assumed = await ramRoleArnProvider().getCredentials();
    const client = new RPCClient({
      accessKeyId: assumed.accessKeyId,
      accessKeySecret: assumed.accessKeySecret,
      securityToken: assumed.securityToken,
      endpoint: url,
      apiVersion: '2014-08-28',
    });
    await client.request('DescribeScalingGroups', describeGroups, { method: 'POST' });
    await admin('POST', '/admin/sts/advance', { seconds: 901 });
    await expect(
      client.request('DescribeScalingGroups', describeGroups, { method: 'POST' }),
    ).rejects.toMatchObject({
      code: 'InvalidSecurityToken.Expired',
    });
  });

  it('refuses a wrong external id, an untrusted principal and an unknown role with the clouds’ codes', async () => {
    await expect(ramRoleArnProvider({ externalId: 'ext-wrong' }).getCredentials()).rejects.toThrow(
      /NoPermission/,
    );
    await expect(
      ramRoleArnProvider({
        principal: { accessKeyId: 'LTAIstranger', accessKeySecret: 'stranger-secret' },
      }).getCredentials(),
    ).rejects.toThrow(/NoPermission/);
    const sts = new AliyunStsClient({
      credentials: async () => ALIYUN_PRINCIPAL,
      httpAgent,
      endpointOverride: url,
    });
    await expect(
      sts.assumeRole({ roleArn: 'acs:ram::1234567890123456:role/gone', roleSessionName: 'sd-x' }),
    ).rejects.toMatchObject({
      code: 'EntityNotExist.Role',
      kind: 'fatal',
    });
  });
});

describe('Tencent: tencentcloud-sdk-nodejs STS against the emulator, then AS with the temporary credentials', () => {
  const stsSdk = (key = TENCENT_PRINCIPAL) =>
    new tencentSts.sts.v20180813.Client({
      credential: key,
      region: 'ap-guangzhou',
      profile: {
        httpProfile: { endpoint: new URL(url).host, protocol: 'http://', reqMethod: 'POST', reqTimeout: 5 },
      },
    });

  it('assumes the role; the AS client acts with TmpSecretId, TmpSecretKey and Token until they expire', async () => {
    const assumed = await stsSdk().AssumeRole({
      RoleArn: TENCENT_ROLE,
      RoleSessionName: 'sdk-session',
      ExternalId: 'ext-games',
    });
    const { TmpSecretId, TmpSecretKey, Token } = assumed.Credentials ?? {};
    expect(TmpSecretId).toMatch(/^AKID/);
    expect(assumed.ExpiredTime).toBeGreaterThan(Date.now() / 1000);
    const as = tencentSdk(url, 'ap-guangzhou', {
      secretId: TmpSecretId,
      secretKey: TmpSecretKey,
      token: Token,
    } as never);
    const groups = await as.DescribeAutoScalingGroups({ AutoScalingGroupIds: ['asg-tcmember'] });
    expect(groups.AutoScalingGroupSet?.map((g) => g.AutoScalingGroupId)).toEqual(['asg-tcmember']);

    const withoutToken = tencentSdk(url, 'ap-guangzhou', {
      secretId: TmpSecretId as string,
      secretKey: TmpSecretKey as string,
    });
    await expect(
      withoutToken.DescribeAutoScalingGroups({ AutoScalingGroupIds: ['asg-tcmember'] }),
    ).rejects.toMatchObject({
      code: 'AuthFailure.TokenFailure',
    });
    await admin('POST', '/admin/sts/advance', { seconds: 7201 });
    await expect(
      as.DescribeAutoScalingGroups({ AutoScalingGroupIds: ['asg-tcmember'] }),
    ).rejects.toMatchObject({
      code: 'AuthFailure.TokenFailure',
    });
  });

  it('refuses a wrong external id and an unknown role with the cloud’s codes', async () => {
    await expect(
      stsSdk().AssumeRole({ RoleArn: TENCENT_ROLE, RoleSessionName: 'sdk-session', ExternalId: 'ext-wrong' }),
    ).rejects.toMatchObject({ code: 'AuthFailure.UnauthorizedOperation' });
    await expect(
      stsSdk().AssumeRole({
        RoleArn: 'qcs::cam::uin/100012345678:roleName/gone',
        RoleSessionName: 'sdk-session',
      }),
    ).rejects.toMatchObject({ code: 'ResourceNotFound.RoleNotExist' });
  });
});

describe('our clients through an expiry: one AssumeRole per account for a batch, one refresh, the call repeated', () => {
  function memberAccounts() {
    return new MemberAccounts({
      registry: async () =>
        AccountRegistry.parse({
          accounts: [
            {
              name: 'shop',
              cloud: 'aliyun',
              roleArn: ALIYUN_ROLE,
              externalId: 'ext-shop',
              durationSeconds: 900,
            },
            {
              name: 'games',
              cloud: 'tencent',
              roleArn: TENCENT_ROLE,
              externalId: 'ext-games',
              allowedRegions: ['ap-guangzhou'],
            },
            { name: 'broken', cloud: 'aliyun', roleArn: 'acs:ram::1234567890123456:role/gone' },
          ],
        }),
      aliyunSts: new AliyunStsClient({
        credentials: async () => ALIYUN_PRINCIPAL,
        httpAgent,
        endpointOverride: url,
      }),
      tencentSts: new TencentStsClient({
        credentials: async () => TENCENT_PRINCIPAL,
        httpAgent,
        endpointOverride: url,
      }),
      // Our cache's clock is the emulator's STS clock, so the test moves both at once.
      now: () => emulator.sts.now(),
    });
  }
  const issuedFor = async (sessionName: string) =>
    ((await admin('GET', '/admin/sts')).credentials as { sessionName: string }[]).filter(
      (c) => c.sessionName === sessionName,
    ).length;

  it('Alibaba: ten concurrent calls share one AssumeRole; short-lived credentials are replaced before they end', async () => {
    const accounts = memberAccounts();
    const ess = new EssClient({ ...accounts.aliyun('shop'), httpAgent, endpointOverride: url });
    const before = await issuedFor('scaling-detach-shop');
    await Promise.all(
      Array.from({ length: 10 }, () => ess.describeScalingGroups('cn-hangzhou', ['asg-member'])),
    );
    expect(await issuedFor('scaling-detach-shop')).toBe(before + 1);

    // The STS lifetime shortened: the next credentials end before our cache would refresh them.
    await admin('POST', '/admin/sts/settings', { lifetimeSeconds: 5 });
    try {
      const shortLived = new EssClient({
        ...memberAccounts().aliyun('shop'),
        httpAgent,
        endpointOverride: url,
      });
      await shortLived.describeScalingGroups('cn-hangzhou', ['asg-member']);
      await admin('POST', '/admin/sts/advance', { seconds: 4 });
      // Our cache refreshes after three quarters of a life (3.75 s): force the expired path by moving past the end.
      await admin('POST', '/admin/sts/advance', { seconds: 2 });
      await expect(shortLived.describeScalingGroups('cn-hangzhou', ['asg-member'])).resolves.toHaveLength(1);
    } finally {
      await admin('POST', '/admin/sts/settings', { lifetimeSeconds: null });
    }
  });

  it('Alibaba: a token the cloud refuses while our cache still holds it is dropped, refreshed once, and the call repeated', async () => {
    const accounts = memberAccounts();
    const ess = new EssClient({ ...accounts.aliyun('shop'), httpAgent, endpointOverride: url });
    await ess.describeScalingGroups('cn-hangzhou', ['asg-member']);
    const before = await issuedFor('scaling-detach-shop');
    // The emulator's clock alone passes the end: our cache (same clock) would refresh, so freeze ours first.
    const frozen = emulator.sts.now();
    const stale = new MemberAccounts({
      registry: async () =>
        AccountRegistry.parse({
          accounts: [{ name: 'shop', cloud: 'aliyun', roleArn: ALIYUN_ROLE, externalId: 'ext-shop' }],
        }),
      aliyunSts: new AliyunStsClient({
        credentials: async () => ALIYUN_PRINCIPAL,
        httpAgent,
        endpointOverride: url,
      }),
      tencentSts: new TencentStsClient({
        credentials: async () => TENCENT_PRINCIPAL,
        httpAgent,
        endpointOverride: url,
      }),
      now: () => frozen,
    });
    const staleEss = new EssClient({ ...stale.aliyun('shop'), httpAgent, endpointOverride: url });
    await staleEss.describeScalingGroups('cn-hangzhou', ['asg-member']);
    await admin('POST', '/admin/sts/advance', { seconds: 3601 });
    const results = await Promise.all(
      Array.from({ length: 10 }, () => staleEss.describeScalingGroups('cn-hangzhou', ['asg-member'])),
    );
    expect(results.every((groups) => groups.length === 1)).toBe(true);
    // The stale cache's first AssumeRole, and exactly one refresh for the ten refused calls.
    expect(await issuedFor('scaling-detach-shop')).toBe(before + 2);
  });

  it('Tencent: an expired token is refreshed once and the call repeated', async () => {
    const frozen = emulator.sts.now();
    const accounts = new MemberAccounts({
      registry: async () =>
        AccountRegistry.parse({
          accounts: [{ name: 'games', cloud: 'tencent', roleArn: TENCENT_ROLE, externalId: 'ext-games' }],
        }),
      aliyunSts: new AliyunStsClient({
        credentials: async () => ALIYUN_PRINCIPAL,
        httpAgent,
        endpointOverride: url,
      }),
      tencentSts: new TencentStsClient({
        credentials: async () => TENCENT_PRINCIPAL,
        httpAgent,
        endpointOverride: url,
      }),
      now: () => frozen,
    });
    const as = new TencentAsClient({ ...accounts.tencent('games'), httpAgent, endpointOverride: url });
    await as.describeGroup('ap-guangzhou', 'asg-tcmember');
    const before = await issuedFor('scaling-detach-games');
    await admin('POST', '/admin/sts/advance', { seconds: 7201 });
    const groups = await Promise.all(
      Array.from({ length: 10 }, () => as.describeGroup('ap-guangzhou', 'asg-tcmember')),
    );
    expect(groups.map((g) => g?.AutoScalingGroupId)).toEqual(Array(10).fill('asg-tcmember'));
    expect(await issuedFor('scaling-detach-games')).toBe(before + 1);
  });

  it('a role that cannot be assumed fails the call fatally with the cloud code and the account name', async () => {
    const ess = new EssClient({ ...memberAccounts().aliyun('broken'), httpAgent, endpointOverride: url });
    const error = await ess.describeScalingGroups('cn-hangzhou', ['asg-member']).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'EntityNotExist.Role', kind: 'fatal' });
    expect((error as Error).message).toMatch(
      /^Account broken: the role acs:ram::1234567890123456:role\/gone could not be assumed/,
    );
  });
});
