import { DetachError } from '../errors.ts';
import type { AccountProviders, ProviderName, ProviderRegistry, ScalingProvider } from './ports.ts';

export interface ProviderDeps {
  providers: ProviderRegistry;
  /** Absent: this deployment has no account registry, so a request naming an account cannot act. */
  accountProviders?: AccountProviders;
}

/**
 * The provider a request acts through: its member account's (assumed credentials) when it names one, the
 * deployment's own otherwise. Every cloud call of a request, and of the poller for it, goes through this.
 */
export function providerFor(
  deps: ProviderDeps,
  of: { provider: ProviderName; account?: string | undefined },
): ScalingProvider {
  if (!of.account) return deps.providers[of.provider];
  if (deps.accountProviders) return deps.accountProviders(of.provider, of.account);
  return unregistered(deps.providers[of.provider], of.account);
}

/**
 * A request recorded for an account while the deployment had a registry, read after it lost it: every call is
 * refused before it is made (fatal, so the request ends Failed naming the account, and nothing acted).
 */
function unregistered(own: ScalingProvider, account: string): ScalingProvider {
  const refuse = async (): Promise<never> => {
    throw new DetachError(
      'AccountNotRegistered',
      `The account ${account} is not in the account registry: this deployment has none (ACCOUNTS_PARAMETER).`,
      'fatal',
    );
  };
  return {
    activityBatchLimit: own.activityBatchLimit,
    idempotentByToken: (action) => own.idempotentByToken(action),
    submit: refuse,
    describeActivities: refuse,
    reconcile: refuse,
    remainingInstances: refuse,
    inspect: refuse,
  };
}
