import { describe, expect, it } from 'vitest';
import { groupKeyOf } from './dispatch.ts';

describe('groupKeyOf', () => {
  it('without an account: the key deployed tables and queues already hold, byte for byte', () => {
    const group = { provider: 'aliyun', region: 'cn-hangzhou', scalingGroupId: 'asg-1' };
    expect(groupKeyOf(group)).toBe('aliyun#cn-hangzhou#asg-1');
    expect(groupKeyOf({ ...group, account: undefined })).toBe('aliyun#cn-hangzhou#asg-1');
  });

  it('a member account ends the key: the same group id in two accounts is two groups', () => {
    const group = { provider: 'tencent', region: 'ap-guangzhou', scalingGroupId: 'asg-1' };
    const shop = groupKeyOf({ ...group, account: 'shop' });
    const games = groupKeyOf({ ...group, account: 'games' });
    expect(shop).toBe('tencent#ap-guangzhou#asg-1#shop');
    expect(games).not.toBe(shop);
    expect(groupKeyOf(group)).not.toBe(shop);
  });

  it('takes the account from a request as parsed', () => {
    const request = {
      requestId: 'r-1',
      provider: 'aliyun' as const,
      region: 'cn-shanghai',
      scalingGroupId: 'asg-9',
      account: 'shop-prod',
      instanceIds: ['i-1'],
      preflight: true,
      dryRun: false,
    };
    expect(groupKeyOf(request)).toBe('aliyun#cn-shanghai#asg-9#shop-prod');
  });
});
