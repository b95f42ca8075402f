import { describe, expect, it } from 'vitest';
import { DEFAULT_CALLER, mayUseAccount, OWN_ACCOUNT } from '../webhook/callers.ts';
import { AccountRegistrySchema } from './account-registry.ts';

/**
 * Caller keys spell the deployment's own account "default" (shared/webhook/callers.ts), so a
 * member account of that name would be reachable by every key scoped to the deployment's own account.
 */
describe('an account named "default"', () => {
  it('is refused by the registry, since a key scoped to the deployment’s own account would act in it', () => {
    const ownOnly = { ...DEFAULT_CALLER, keyId: 'own-only', accounts: new Set([OWN_ACCOUNT]) };
    // The key may name `account: "default"` in a request; the registry then acts in the member account "default".
    expect(mayUseAccount(ownOnly, 'default')).toBe(true);

    const registry = AccountRegistrySchema.safeParse({
      accounts: [{ name: 'default', cloud: 'aliyun', roleArn: 'acs:ram::1234567890:role/scaling-detach' }],
    });

    expect(registry.success).toBe(false);
  });
});
