import { describe, expect, it } from 'vitest';
import { DetachError } from '../errors.ts';
import type { AliyunAssumeRoleInput } from '../providers/aliyun/sts-client.ts';
import type { TencentAssumeRoleInput } from '../providers/tencent/sts-client.ts';
import { AccountRegistry } from './account-registry.ts';
import { MemberAccounts } from './member-accounts.ts';

const registry = AccountRegistry.parse({
  accounts: [
    {
      name: 'shop',
      cloud: 'aliyun',
      roleArn: 'acs:ram::1234567890123456:role/scaling-detach',
      externalId: 'ext-shop',
    },
    {
      name: 'games',
      cloud: 'tencent',
      roleArn: 'qcs::cam::uin/100012345678:roleName/scaling-detach',
      allowedRegions: ['ap-shanghai'],
    },
  ],
});

function accounts(refuse?: DetachError) {
  const aliyunCalls: AliyunAssumeRoleInput[] = [];
  const tencentCalls: TencentAssumeRoleInput[] = [];
  const member = new MemberAccounts({
    registry: async () => registry,
    now: () => 0,
    aliyunSts: {
      assumeRole: async (input) => {
        aliyunCalls.push(input);
        if (refuse) throw refuse;
        return {
          accessKeyId: 'STS.a',
          accessKeySecret: 's',
          securityToken: `t${aliyunCalls.length}`,
          expiresAt: new Date(3_600_000),
        };
      },
    },
    tencentSts: {
      assumeRole: async (input) => {
        tencentCalls.push(input);
        return {
          secretId: 'AKIDt',
          secretKey: 's',
          token: `t${tencentCalls.length}`,
          expiresAt: new Date(7_200_000),
        };
      },
    },
  });
  return { member, aliyunCalls, tencentCalls };
}

describe('MemberAccounts', () => {
  it('assumes the registered role with its external id and a session named after the account, once for a batch', async () => {
    const { member, aliyunCalls } = accounts();
    const shop = member.aliyun('shop');
    const all = await Promise.all(Array.from({ length: 10 }, () => shop.credentials()));
    expect(aliyunCalls).toEqual([
      {
        roleArn: 'acs:ram::1234567890123456:role/scaling-detach',
        roleSessionName: 'scaling-detach-shop',
        externalId: 'ext-shop',
      },
    ]);
    expect(all[9]).toEqual({ accessKeyId: 'STS.a', accessKeySecret: 's', securityToken: 't1' });
  });

  it('Tencent: asks STS in the account’s first allowed region; a refused token is dropped once', async () => {
    const { member, tencentCalls } = accounts();
    const games = member.tencent('games');
    const first = await games.credentials();
    games.credentialsRefused(first);
    games.credentialsRefused(first);
    expect((await games.credentials()).token).toBe('t2');
    expect(tencentCalls.map((call) => call.region)).toEqual(['ap-shanghai', 'ap-shanghai']);
  });

  it('an unknown account, or one of the other cloud, is fatal before any STS call', async () => {
    const { member, aliyunCalls, tencentCalls } = accounts();
    await expect(member.aliyun('nobody').credentials()).rejects.toMatchObject({
      code: 'AccountNotRegistered',
      kind: 'fatal',
    });
    await expect(member.aliyun('games').credentials()).rejects.toMatchObject({
      code: 'AccountCloudMismatch',
      kind: 'fatal',
    });
    expect(aliyunCalls.length + tencentCalls.length).toBe(0);
  });

  it('a role that cannot be assumed keeps the cloud code and names the account', async () => {
    const { member } = accounts(
      new DetachError('EntityNotExist.Role', 'The specified Role not exists .', 'fatal', { httpStatus: 404 }),
    );
    const error = await member
      .aliyun('shop')
      .credentials()
      .catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'EntityNotExist.Role', kind: 'fatal', httpStatus: 404 });
    expect((error as Error).message).toBe(
      'Account shop: the role acs:ram::1234567890123456:role/scaling-detach could not be assumed: The specified Role not exists .',
    );
  });
});
