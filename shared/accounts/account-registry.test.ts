import { describe, expect, it } from 'vitest';
import { AccountRegistry } from './account-registry.ts';

const aliyun = {
  name: 'shop-prod',
  cloud: 'aliyun',
  roleArn: 'acs:ram::1234567890123456:role/scaling-detach',
  externalId: 'ext-4f1c2b',
  allowedRegions: ['cn-hangzhou', 'cn-shanghai'],
};
const tencent = {
  name: 'shop-prod-tc',
  cloud: 'tencent',
  roleArn: 'qcs::cam::uin/100012345678:roleName/scaling-detach',
};

const problemsOf = (value: unknown): string => {
  try {
    AccountRegistry.parse(value);
  } catch (error) {
    return (error as Error).message;
  }
  throw new Error('the registry was accepted');
};

describe('AccountRegistry', () => {
  it('reads accounts of both clouds by name, with their optional external id and regions', () => {
    const registry = AccountRegistry.parse({ accounts: [aliyun, tencent] });
    expect(registry.names).toEqual(['shop-prod', 'shop-prod-tc']);
    expect(registry.get('shop-prod')).toEqual(aliyun);
    expect(registry.get('shop-prod-tc')).toEqual(tencent);
    expect(registry.get('nobody')).toBeUndefined();
  });

  it('allows the regions an account names, and every region when it names none', () => {
    const registry = AccountRegistry.parse({ accounts: [aliyun, tencent] });
    const shop = registry.get('shop-prod');
    const tc = registry.get('shop-prod-tc');
    if (!shop || !tc) throw new Error('missing');
    expect(registry.allowsRegion(shop, 'cn-shanghai')).toBe(true);
    expect(registry.allowsRegion(shop, 'cn-beijing')).toBe(false);
    expect(registry.allowsRegion(tc, 'ap-singapore')).toBe(true);
  });

  it('an empty registry is valid', () => {
    expect(AccountRegistry.parse({ accounts: [] }).names).toEqual([]);
  });

  it.each([
    ['a Tencent ARN on an Alibaba account', { ...aliyun, roleArn: tencent.roleArn }],
    ['an Alibaba ARN on a Tencent account', { ...tencent, roleArn: aliyun.roleArn }],
    ['no account id', { ...aliyun, roleArn: 'acs:ram:::role/scaling-detach' }],
    ['a letter in the account id', { ...aliyun, roleArn: 'acs:ram::12345x:role/scaling-detach' }],
    ['a user, not a role', { ...aliyun, roleArn: 'acs:ram::1234567890123456:user/scaling-detach' }],
    [
      'a role id instead of roleName',
      { ...tencent, roleArn: 'qcs::cam::uin/100012345678:role/4611686018427397919' },
    ],
    ['a space in the role name', { ...aliyun, roleArn: 'acs:ram::1234567890123456:role/scaling detach' }],
    ['trailing text', { ...tencent, roleArn: `${tencent.roleArn}\n` }],
  ])('refuses a bad role ARN: %s', (_case, account) => {
    expect(problemsOf({ accounts: [account] })).toMatch(/accounts\.0\.roleArn: must be/);
  });

  it('refuses a name used twice, naming the second', () => {
    expect(problemsOf({ accounts: [aliyun, { ...tencent, name: aliyun.name }] })).toContain(
      'accounts.1.name: the account name shop-prod is used twice',
    );
  });

  it.each([
    ['an unknown cloud', { ...aliyun, cloud: 'aws' }, 'accounts.0.cloud'],
    ['an upper-case name', { ...aliyun, name: 'Shop' }, 'accounts.0.name'],
    ['an empty region list', { ...aliyun, allowedRegions: [] }, 'accounts.0.allowedRegions'],
    ['a region that is not one', { ...aliyun, allowedRegions: ['Hangzhou'] }, 'accounts.0.allowedRegions.0'],
    ['a one-character external id', { ...aliyun, externalId: 'x' }, 'accounts.0.externalId'],
    ['a duration under 900 s', { ...aliyun, durationSeconds: 60 }, 'accounts.0.durationSeconds'],
  ])('refuses %s', (_case, account, path) => {
    expect(problemsOf({ accounts: [account] })).toContain(`${path}:`);
  });

  it('refuses what is not a registry, and never quotes a value in its message', () => {
    expect(problemsOf(undefined)).toMatch(/^Invalid account registry: /);
    expect(problemsOf({ accounts: [{ ...aliyun, externalId: 'x' }] })).not.toContain('"x"');
  });
});
