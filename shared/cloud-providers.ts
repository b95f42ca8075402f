import type { Agent } from 'undici';
import { AccountRegistry, AccountRegistrySchema } from './accounts/account-registry.ts';
import { MemberAccounts } from './accounts/member-accounts.ts';
import type { Config } from './config.ts';
import type { AccountCheck, AccountProviders, ProviderRegistry, ScalingProvider } from './detach/ports.ts';
import { DetachError } from './errors.ts';
import { traceCloudCalls } from './observability.ts';
import { EssClient, EssCredentials } from './providers/aliyun/ess-client.ts';
import { EssProvider } from './providers/aliyun/ess-provider.ts';
import { AliyunStsClient } from './providers/aliyun/sts-client.ts';
import { createHttpAgent } from './providers/http.ts';
import { TencentAsClient, TencentCredentials } from './providers/tencent/as-client.ts';
import { TencentStsClient } from './providers/tencent/sts-client.ts';
import { TencentProvider } from './providers/tencent/tencent-provider.ts';
import { TencentV2Client } from './providers/tencent/v2-client.ts';
import { fromParameter } from './ssm-parameters.ts';

/** The clouds' providers: the deployment's own keys, and each member account's through its assumed role. */
/**
 * The account registry (issue #21): read from its SSM parameter (cached five minutes, so an edit is picked up
 * without a deployment), or given inline as ACCOUNTS where there is no SSM (the local stack). Undefined without
 * either: requests naming an account are then refused at intake.
 */
export function accountRegistryOf(config: Config): (() => Promise<AccountRegistry>) | undefined {
  if (config.ACCOUNTS_PARAMETER) {
    const read = fromParameter(config.ACCOUNTS_PARAMETER, AccountRegistrySchema, 'account registry');
    // The parameter's reader hands back the same object until it re-reads it: one registry per read.
    let last: { data: unknown; registry: AccountRegistry } | undefined;
    return async () => {
      const data = await read();
      if (last?.data !== data) last = { data, registry: new AccountRegistry(data) };
      return last.registry;
    };
  }
  if (!config.ACCOUNTS) return undefined;
  const fixed = AccountRegistry.parse(JSON.parse(config.ACCOUNTS));
  return async () => fixed;
}

/**
 * Intake's check of a request's account against the registry, before anything is recorded. A registry that does
 * not exist or cannot be read as one (fatal) knows no account; SSM out of reach (transient) is thrown, so the
 * message comes back.
 */
export const accountCheckOf = (
  registry: (() => Promise<AccountRegistry>) | undefined,
): { accounts?: AccountCheck } =>
  registry
    ? {
        accounts: {
          refusal: async (request) => {
            const found = await registry().catch((error: unknown) => {
              if (error instanceof DetachError && error.kind === 'fatal') return error;
              throw error;
            });
            if (found instanceof DetachError) {
              return {
                code: 'UnknownAccount',
                message: `The account ${request.account} is unknown: ${found.message}`,
              };
            }
            return found.refusal(request);
          },
        },
      }
    : {};

/**
 * A provider per member account, built on its first request: its clients sign with the account's assumed
 * credentials, refreshed once when the cloud refuses them. Only the request's own cloud is built.
 */
export function accountProvidersOf(
  config: Config,
  httpAgent: Agent,
  members: MemberAccounts,
): AccountProviders {
  const built = new Map<string, ScalingProvider>();
  return (provider, account) => {
    const key = `${provider}#${account}`;
    let found = built.get(key);
    if (!found) {
      found =
        provider === 'aliyun'
          ? essProviderOf(config, httpAgent, members.aliyun(account))
          : tencentProviderOf(config, httpAgent, members.tencent(account));
      built.set(key, found);
    }
    return found;
  };
}

/**
 * The member accounts' credentials: STS AssumeRole signed with the deployment's own keys, cached per account and
 * refreshed once (shared/accounts/member-accounts.ts).
 */
export function memberAccountsOf(config: Config, registry: () => Promise<AccountRegistry>): MemberAccounts {
  const httpAgent = createHttpAgent({
    connectTimeoutMs: config.HTTP_CONNECT_TIMEOUT_MS,
    responseTimeoutMs: config.HTTP_RESPONSE_TIMEOUT_MS,
    connectionsPerOrigin: 4,
  });
  return new MemberAccounts({
    registry,
    aliyunSts: new AliyunStsClient({
      credentials: essCredentials(config),
      httpAgent,
      ...(config.ALIYUN_STS_ENDPOINT && { endpointOverride: config.ALIYUN_STS_ENDPOINT }),
    }),
    tencentSts: new TencentStsClient({
      credentials: tencentCredentials(config),
      httpAgent,
      ...(config.TENCENT_STS_ENDPOINT && { endpointOverride: config.TENCENT_STS_ENDPOINT }),
    }),
    now: () => Date.now(),
  });
}

/** The deployment's own providers: its own keys, for requests that name no account. */
export function providersOf(config: Config, httpAgent: Agent): ProviderRegistry {
  return {
    aliyun: essProviderOf(config, httpAgent, { credentials: essCredentials(config) }),
    tencent: tencentProviderOf(config, httpAgent, { credentials: tencentCredentials(config) }),
  };
}

/** Where a provider's clients get their credentials; `credentialsRefused` only for temporary ones. */
interface CredentialSource<C> {
  credentials: () => Promise<C>;
  credentialsRefused?: (refused: C) => void;
}

// Each cloud API call is an X-Ray subsegment named by its action.
export const essProviderOf = (config: Config, httpAgent: Agent, source: CredentialSource<EssCredentials>) =>
  new EssProvider(
    traceCloudCalls(
      'ESS',
      new EssClient({
        ...source,
        httpAgent,
        ...(config.ESS_ENDPOINT && { endpointOverride: config.ESS_ENDPOINT }),
        signatureVersion: config.ALIYUN_SIGNATURE_VERSION,
      }),
    ),
  );

export const tencentProviderOf = (
  config: Config,
  httpAgent: Agent,
  source: CredentialSource<TencentCredentials>,
) =>
  new TencentProvider(
    traceCloudCalls(
      'TencentAS',
      new TencentAsClient({
        ...source,
        httpAgent,
        ...(config.TENCENT_AS_ENDPOINT && { endpointOverride: config.TENCENT_AS_ENDPOINT }),
      }),
    ),
    traceCloudCalls(
      'TencentASv2',
      new TencentV2Client({
        ...source,
        httpAgent,
        ...(config.TENCENT_V2_ENDPOINT && { endpointOverride: config.TENCENT_V2_ENDPOINT }),
      }),
    ),
  );

export function essCredentials(config: Config): () => Promise<EssCredentials> {
  if (config.ALIYUN_CREDENTIALS_PARAMETER)
    return fromParameter(config.ALIYUN_CREDENTIALS_PARAMETER, EssCredentials, 'Alibaba Cloud');
  const fixed = EssCredentials.parse({
    accessKeyId: config.ALIYUN_ACCESS_KEY_ID,
    accessKeySecret: config.ALIYUN_ACCESS_KEY_SECRET,
  });
  return async () => fixed;
}

export function tencentCredentials(config: Config): () => Promise<TencentCredentials> {
  if (config.TENCENT_CREDENTIALS_PARAMETER) {
    return fromParameter(config.TENCENT_CREDENTIALS_PARAMETER, TencentCredentials, 'Tencent Cloud');
  }
  if (config.TENCENT_SECRET_ID && config.TENCENT_SECRET_KEY) {
    const fixed = TencentCredentials.parse({
      secretId: config.TENCENT_SECRET_ID,
      secretKey: config.TENCENT_SECRET_KEY,
    });
    return async () => fixed;
  }
  // Tencent is optional: without keys, its requests fail with a clear, fatal reason.
  return async () => {
    throw new DetachError(
      'CredentialsNotConfigured',
      'No Tencent Cloud credentials are configured for this stage.',
      'fatal',
    );
  };
}
