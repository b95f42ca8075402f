import * as z from 'zod';
import type { AccountRefusal } from '../detach/ports.ts';

/** `acs:ram::<uid>:role/<name>`: an Alibaba Cloud account id (digits) and a RAM role name (1-64 of [\w.-]). */
export const ALIYUN_ROLE_ARN = /^acs:ram::\d{1,32}:role\/[A-Za-z0-9._-]{1,64}$/;
/** `qcs::cam::uin/<uin>:roleName/<name>`: a Tencent Cloud account uin (digits) and a CAM role name (1-128 of [\w+=,.@-]). */
export const TENCENT_ROLE_ARN = /^qcs::cam::uin\/\d{1,20}:roleName\/[\w+=,.@-]{1,128}$/;

const region = z.string().regex(/^[a-z]{2,}(-[a-z0-9]+)+$/, 'must be a region id such as cn-hangzhou');
const common = {
  /** What requests name in `account`, and what the member account's audit log shows as the session. */
  name: z
    .string()
    .regex(
      /^[a-z0-9][a-z0-9-]{0,31}$/,
      'must be 1-32 lower-case letters, digits or hyphens, starting with a letter or digit',
    )
    // Caller keys name the deployment's own account "default": a member account of that name would be theirs too.
    .refine(
      (name) => name !== 'default',
      'default is reserved for the deployment’s own account (caller keys)',
    ),
  /** The role's trust policy requires it (sts:ExternalId / qcs:sts:ExternalId): guards against a confused deputy. */
  externalId: z
    .string()
    .regex(/^[\w+=,.@:/-]{2,128}$/, 'must be 2-128 characters of letters, digits and +=,.@:/-')
    .optional(),
  /** Requests for this account may name only these regions; absent: any. */
  allowedRegions: z.array(region).min(1).optional(),
  /** Asked of STS; absent: the cloud's default (3600 s Alibaba, 7200 s Tencent). */
  durationSeconds: z.number().int().min(900).max(43_200).optional(),
};

export const AccountEntry = z.discriminatedUnion('cloud', [
  z.object({
    ...common,
    cloud: z.literal('aliyun'),
    roleArn: z.string().regex(ALIYUN_ROLE_ARN, 'must be acs:ram::<account id>:role/<role name>'),
  }),
  z.object({
    ...common,
    cloud: z.literal('tencent'),
    roleArn: z.string().regex(TENCENT_ROLE_ARN, 'must be qcs::cam::uin/<uin>:roleName/<role name>'),
  }),
]);
export type AccountEntry = z.infer<typeof AccountEntry>;

/** The registry as stored (an SSM parameter holding JSON): a list of accounts with unique names. */
export const AccountRegistrySchema = z
  .object({ accounts: z.array(AccountEntry) })
  .superRefine((registry, context) => {
    const seen = new Set<string>();
    for (const [index, account] of registry.accounts.entries()) {
      if (seen.has(account.name)) {
        context.addIssue({
          code: 'custom',
          path: ['accounts', index, 'name'],
          message: `the account name ${account.name} is used twice`,
        });
      }
      seen.add(account.name);
    }
  });
export type AccountRegistryData = z.infer<typeof AccountRegistrySchema>;

/** The accounts one deployment may act in through assumed roles, by name. */
export class AccountRegistry {
  readonly #byName: ReadonlyMap<string, AccountEntry>;

  constructor(data: AccountRegistryData) {
    this.#byName = new Map(data.accounts.map((account) => [account.name, account]));
  }

  /** Validates what the parameter holds; throws with every problem found (paths and messages, never values). */
  static parse(value: unknown): AccountRegistry {
    const parsed = AccountRegistrySchema.safeParse(value);
    if (!parsed.success) {
      const problems = parsed.error.issues
        .map((issue) => `${issue.path.join('.')}: ${issue.message}`)
        .join('; ');
      throw new Error(`Invalid account registry: ${problems}`);
    }
    return new AccountRegistry(parsed.data);
  }

  get(name: string): AccountEntry | undefined {
    return this.#byName.get(name);
  }

  get names(): string[] {
    return [...this.#byName.keys()];
  }

  /**
   * Why a request may not name this account, checked at intake (issue #21): unknown, of the other cloud, or a
   * region its entry does not allow. Undefined when it may.
   */
  refusal(request: { provider: string; region: string; account: string }): AccountRefusal | undefined {
    const account = this.get(request.account);
    if (!account) {
      return {
        code: 'UnknownAccount',
        message: `The account ${request.account} is not in this deployment's account registry.`,
      };
    }
    if (account.cloud !== request.provider) {
      return {
        code: 'AccountCloudMismatch',
        message: `The account ${request.account} is a ${account.cloud} account, not ${request.provider}.`,
      };
    }
    if (!this.allowsRegion(account, request.region)) {
      return {
        code: 'AccountRegionNotAllowed',
        message: `The account ${request.account} may not act in ${request.region} (allowed: ${account.allowedRegions?.join(', ')}).`,
      };
    }
    return undefined;
  }

  /** Whether the account may act in this region (every region when it names none). */
  allowsRegion(account: AccountEntry, regionId: string): boolean {
    return account.allowedRegions === undefined || account.allowedRegions.includes(regionId);
  }
}
