import { describe, expect, it } from 'vitest';
import { AccountRegistry } from '../accounts/account-registry.ts';
import type { DetachRequest } from '../contracts/index.ts';
import { accountRefusal } from './account-check.ts';
import type { AccountCheck } from './ports.ts';

const registry = AccountRegistry.parse({
  accounts: [
    {
      name: 'shop',
      cloud: 'aliyun',
      roleArn: 'acs:ram::1234567890123456:role/scaling-detach',
      allowedRegions: ['cn-hangzhou'],
    },
    { name: 'games', cloud: 'tencent', roleArn: 'qcs::cam::uin/100012345678:roleName/scaling-detach' },
  ],
});
const check: AccountCheck = { refusal: async (request) => registry.refusal(request) };

const aRequest = (fields: Partial<DetachRequest> = {}) =>
  ({
    requestId: 'r-1',
    provider: 'aliyun',
    region: 'cn-hangzhou',
    scalingGroupId: 'asg-1',
    instanceIds: ['i-1'],
    preflight: true,
    dryRun: false,
    ...fields,
  }) as DetachRequest;

describe('accountRefusal', () => {
  it('a request naming no account is the deployment’s own, with or without a registry', async () => {
    await expect(accountRefusal(check, aRequest())).resolves.toBeUndefined();
    await expect(accountRefusal(undefined, aRequest())).resolves.toBeUndefined();
  });

  it('a registered account of the request’s cloud, in an allowed region, may be named', async () => {
    await expect(accountRefusal(check, aRequest({ account: 'shop' }))).resolves.toBeUndefined();
    await expect(
      accountRefusal(
        check,
        aRequest({ provider: 'tencent', region: 'ap-beijing', account: 'games' } as never),
      ),
    ).resolves.toBeUndefined();
  });

  it.each([
    ['an unknown account', { account: 'nobody' }, 'UnknownAccount', /nobody is not in this deployment/],
    [
      'an account of the other cloud',
      { account: 'games' },
      'AccountCloudMismatch',
      /games is a tencent account/,
    ],
    [
      'a region the account does not allow',
      { account: 'shop', region: 'cn-beijing' },
      'AccountRegionNotAllowed',
      /shop may not act in cn-beijing \(allowed: cn-hangzhou\)/,
    ],
  ])('refuses %s, naming it', async (_case, fields, code, message) => {
    const refused = await accountRefusal(check, aRequest(fields as Partial<DetachRequest>));
    expect(refused?.code).toBe(code);
    expect(refused?.message).toMatch(message);
  });

  it('without a registry, every account is unknown', async () => {
    await expect(accountRefusal(undefined, aRequest({ account: 'shop' }))).resolves.toMatchObject({
      code: 'UnknownAccount',
    });
  });
});
