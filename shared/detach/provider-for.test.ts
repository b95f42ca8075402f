import { describe, expect, it } from 'vitest';
import type { ScalingProvider } from './ports.ts';
import { providerFor } from './provider-for.ts';

const aProvider = (name: string) =>
  ({
    name,
    activityBatchLimit: 20,
    idempotentByToken: () => true,
    submit: async () => ({ activityId: `act-${name}` }),
    describeActivities: async () => [],
    reconcile: async () => new Map(),
    remainingInstances: async () => [],
    inspect: async () => undefined,
  }) as ScalingProvider & { name: string };

const providers = { aliyun: aProvider('own-aliyun'), tencent: aProvider('own-tencent') };

describe('providerFor', () => {
  it('no account: the deployment’s own provider of the cloud', () => {
    expect(providerFor({ providers }, { provider: 'tencent' })).toBe(providers.tencent);
  });

  it('an account: its own provider, asked by cloud and name', () => {
    const asked: string[] = [];
    const accountProviders = (provider: string, account: string) => {
      asked.push(`${provider}/${account}`);
      return aProvider(account);
    };
    const found = providerFor({ providers, accountProviders }, { provider: 'aliyun', account: 'shop' });
    expect((found as ScalingProvider & { name: string }).name).toBe('shop');
    expect(asked).toEqual(['aliyun/shop']);
  });

  it('an account without a registry: every call refused before it is made, naming the account', async () => {
    const found = providerFor({ providers }, { provider: 'aliyun', account: 'shop' });
    await expect(found.describeActivities('cn-hangzhou', ['a-1'])).rejects.toMatchObject({
      code: 'AccountNotRegistered',
      kind: 'fatal',
      message: expect.stringContaining('shop'),
    });
    expect(found.activityBatchLimit).toBe(20);
  });
});
