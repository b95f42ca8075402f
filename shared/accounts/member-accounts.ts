import { DetachError, isDetachError } from '../errors.ts';
import type { EssCredentials } from '../providers/aliyun/ess-client.ts';
import type { AliyunAssumedCredentials, AliyunStsClient } from '../providers/aliyun/sts-client.ts';
import { AssumedCredentials } from '../providers/assumed-credentials.ts';
import type { TencentCredentials } from '../providers/tencent/as-client.ts';
import type { TencentAssumedCredentials, TencentStsClient } from '../providers/tencent/sts-client.ts';
import type { AccountEntry, AccountRegistry } from './account-registry.ts';

export interface MemberAccountsOptions {
  /** The registry, read (and cached) from its parameter. */
  registry: () => Promise<AccountRegistry>;
  aliyunSts: Pick<AliyunStsClient, 'assumeRole'>;
  tencentSts: Pick<TencentStsClient, 'assumeRole'>;
  /** Milliseconds since the epoch. */
  now: () => number;
  /** The session name's prefix: the member accounts' audit logs show `<prefix>-<account>`. */
  sessionPrefix?: string;
  /** Where Tencent's STS is asked when the account names no region (STS wants one). */
  tencentStsRegion?: string;
}

/** What a cloud client takes to act in a member account: its credentials, and whom to tell when they are refused. */
export interface AccountCredentials<C> {
  credentials: () => Promise<C>;
  credentialsRefused: (refused: C) => void;
}

/**
 * The member accounts of the registry, each acting through its assumed role: credentials cached per account and
 * refreshed once (shared/providers/assumed-credentials.ts). A role that cannot be assumed is fatal with the cloud's
 * code, and the message names the account.
 */
export class MemberAccounts {
  readonly #options: MemberAccountsOptions;
  readonly #aliyun: AssumedCredentials<AliyunAssumedCredentials>;
  readonly #tencent: AssumedCredentials<TencentAssumedCredentials>;
  /** The registry entry behind each cache key, and each account's last key (what a refusal invalidates). */
  readonly #entries = new Map<string, AccountEntry>();
  readonly #lastKey = new Map<string, string>();

  constructor(options: MemberAccountsOptions) {
    this.#options = options;
    this.#aliyun = new AssumedCredentials({
      now: options.now,
      assume: async (key) => {
        const account = this.#entryOf(key);
        return this.#named(account, () =>
          options.aliyunSts.assumeRole({
            roleArn: account.roleArn,
            roleSessionName: this.#sessionName(account.name),
            ...(account.externalId && { externalId: account.externalId }),
            ...(account.durationSeconds && { durationSeconds: account.durationSeconds }),
          }),
        );
      },
    });
    this.#tencent = new AssumedCredentials({
      now: options.now,
      assume: async (key) => {
        const account = this.#entryOf(key);
        return this.#named(account, () =>
          options.tencentSts.assumeRole({
            roleArn: account.roleArn,
            roleSessionName: this.#sessionName(account.name),
            region: account.allowedRegions?.[0] ?? options.tencentStsRegion ?? 'ap-guangzhou',
            ...(account.externalId && { externalId: account.externalId }),
            ...(account.durationSeconds && { durationSeconds: account.durationSeconds }),
          }),
        );
      },
    });
  }

  /** For an EssClient of this account. */
  aliyun(name: string): AccountCredentials<EssCredentials> {
    return {
      credentials: async () => {
        const assumed = await this.#aliyun.get(await this.#keyOf(name, 'aliyun'));
        return {
          accessKeyId: assumed.accessKeyId,
          accessKeySecret: assumed.accessKeySecret,
          securityToken: assumed.securityToken,
        };
      },
      credentialsRefused: (refused) =>
        this.#aliyun.invalidate(
          this.#lastKey.get(name) ?? '',
          (cached) => cached.securityToken === refused.securityToken,
        ),
    };
  }

  /** For the Tencent AS clients (API 3.0 and v2) of this account. */
  tencent(name: string): AccountCredentials<TencentCredentials> {
    return {
      credentials: async () => {
        const assumed = await this.#tencent.get(await this.#keyOf(name, 'tencent'));
        return { secretId: assumed.secretId, secretKey: assumed.secretKey, token: assumed.token };
      },
      credentialsRefused: (refused) =>
        this.#tencent.invalidate(this.#lastKey.get(name) ?? '', (cached) => cached.token === refused.token),
    };
  }

  /**
   * The cache key of an account as the registry holds it now (read on every call; the registry itself is cached):
   * an account removed, or moved to the other cloud, is refused before any credentials are served, and an edited
   * entry (another role, external id, duration or region) is another key, so credentials of the old role are never
   * served for it.
   */
  async #keyOf(name: string, cloud: AccountEntry['cloud']): Promise<string> {
    const account = await this.#account(name, cloud);
    const key = JSON.stringify([
      account.name,
      account.cloud,
      account.roleArn,
      account.externalId ?? null,
      account.durationSeconds ?? null,
      account.allowedRegions?.[0] ?? null,
    ]);
    this.#entries.set(key, account);
    this.#lastKey.set(name, key);
    return key;
  }

  #entryOf(key: string): AccountEntry {
    const account = this.#entries.get(key);
    if (!account)
      throw new DetachError('AccountNotRegistered', 'The account is not in the account registry.', 'fatal');
    return account;
  }

  async #account(name: string, cloud: AccountEntry['cloud']): Promise<AccountEntry> {
    const account = (await this.#options.registry()).get(name);
    if (!account) {
      throw new DetachError(
        'AccountNotRegistered',
        `The account ${name} is not in the account registry.`,
        'fatal',
      );
    }
    if (account.cloud !== cloud) {
      throw new DetachError(
        'AccountCloudMismatch',
        `The account ${name} is a ${account.cloud} account, not ${cloud}.`,
        'fatal',
      );
    }
    return account;
  }

  async #named<T>(account: AccountEntry, assume: () => Promise<T>): Promise<T> {
    try {
      return await assume();
    } catch (error) {
      if (!isDetachError(error)) throw error;
      throw new DetachError(
        error.code,
        `Account ${account.name}: the role ${account.roleArn} could not be assumed: ${error.message}`,
        error.kind,
        {
          ...(error.httpStatus !== undefined && { httpStatus: error.httpStatus }),
          ...(error.cloudRequestId !== undefined && { cloudRequestId: error.cloudRequestId }),
          cause: error,
        },
      );
    }
  }

  #sessionName(name: string): string {
    return `${this.#options.sessionPrefix ?? 'scaling-detach'}-${name}`.slice(0, 64);
  }
}
