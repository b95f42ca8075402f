import type { DetachRequest } from '../contracts/index.ts';
import type { AccountCheck, AccountRefusal } from './ports.ts';

/**
 * Whether a request may name its account, checked at intake before anything is recorded (issue #21): a request
 * that names none is the deployment's own, as before. Without a registry every account is unknown.
 */
export async function accountRefusal(
  accounts: AccountCheck | undefined,
  request: DetachRequest,
): Promise<AccountRefusal | undefined> {
  const { account, provider, region } = request;
  if (!account) return undefined;
  if (!accounts) {
    return {
      code: 'UnknownAccount',
      message: `The account ${account} is unknown: this deployment has no account registry.`,
    };
  }
  return accounts.refusal({ provider, region, account });
}
