import { EssApi } from './ess/ess-api.ts';
import { decide, loadPolicy, type Permit, type PolicyDocument, type PolicyRef, trusts } from './policies.ts';
import type { EmulatorSeed } from './seed.ts';
import type { StsRole } from './sts/sts-emulator.ts';
import { TencentApi3 } from './tencent/tencent-api3.ts';
import { TencentState } from './tencent/tencent-state.ts';
import { TencentV2 } from './tencent/tencent-v2.ts';

export type Cloud = 'aliyun' | 'tencent';

/** One account's world: its own groups, instances and keys, which no other account's credentials see. */
export interface AccountWorld {
  /** `default` for the deployment's account (the seed's top level), else the member account's name. */
  name: string;
  cloud: Cloud | 'both';
  ids: Record<Cloud, string>;
  ess: EssApi;
  tencent: { state: TencentState; api3: TencentApi3; v2: TencentV2 };
  /** SecretId -> SecretKey, for the Tencent APIs (ESS keeps its own). */
  secrets: Map<string, string>;
}

/** Who a key is: its account, and (for a RAM user / CAM sub-user or an assumed role) its policies. */
export interface Principal {
  world: AccountWorld;
  /** Absent: the account's root key, which may do anything. */
  policies?: PolicyDocument[];
}

/** A seeded role: where its credentials act, what they may do, whom it trusts. */
export interface SeededRole {
  role: StsRole;
  world: AccountWorld;
  policies: PolicyDocument[];
  trust: PolicyDocument;
}

/** The emulator folder: relative policy files of a seed not read from a file are relative to it. */
export const EMULATOR_DIR = new URL('./', import.meta.url);

export const roleArnOf = (cloud: Cloud, accountId: string, name: string): string =>
  cloud === 'aliyun' ? `acs:ram::${accountId}:role/${name}` : `qcs::cam::uin/${accountId}:roleName/${name}`;

/** The resource a call acts on, as the cloud names it in policies. */
export const resourceOf = (
  cloud: Cloud,
  accountId: string,
  scope: { region: string; groupId?: string | undefined },
): string =>
  cloud === 'aliyun'
    ? `acs:ess:${scope.region || '*'}:${accountId}:scalinggroup/${scope.groupId ?? '*'}`
    : `qcs::as:${scope.region}:uin/${accountId}:autoscalinggroup/${scope.groupId ?? '*'}`;

/** The clouds' refusals, each naming the permission that is missing (action and resource), as the clouds do. */
export const denialMessage = (
  cloud: Cloud,
  action: string,
  resource: string,
  decision: 'explicitDeny' | 'implicitDeny',
): string =>
  cloud === 'aliyun'
    ? `User not authorized to operate on the specified resource, or this API doesn't support RAM. AuthAction: ${action}, AuthResource: ${resource}, NoPermissionType: ${decision === 'explicitDeny' ? 'ExplicitDeny' : 'ImplicitDeny'}.`
    : `you are not authorized to perform operation (${action}) resource (${resource}) has no permission${decision === 'explicitDeny' ? ' (explicitly denied)' : ''}.`;

const stsDenialMessage = (cloud: Cloud, roleArn: string, decision: 'explicitDeny' | 'implicitDeny') =>
  cloud === 'aliyun'
    ? `You are not authorized to do this action. You should be authorized by RAM. AuthAction: sts:AssumeRole, AuthResource: ${roleArn}, NoPermissionType: ${decision === 'explicitDeny' ? 'ExplicitDeny' : 'ImplicitDeny'}.`
    : denialMessage('tencent', 'sts:AssumeRole', roleArn, decision);

/**
 * The keys, accounts and roles of a seed, and the checks the APIs ask of them. Built whole from a seed; a reseed
 * builds a new one. Policies are read (and their placeholders filled) here, so a seed that names a missing file or
 * leaves a placeholder unfilled is refused before anything changes.
 */
export class Accounts {
  readonly default: AccountWorld;
  readonly members = new Map<string, AccountWorld>();
  readonly #principals = new Map<string, Principal>();
  readonly #roles = new Map<string, SeededRole>();

  constructor(seed: EmulatorSeed, base: URL = EMULATOR_DIR) {
    const load = (refs: readonly PolicyRef[] | undefined, path: string) =>
      refs?.map((ref, i) => {
        try {
          return loadPolicy(ref, base);
        } catch (error) {
          throw new Error(`${path}[${i}]: ${(error as Error).message}`);
        }
      });
    this.default = this.#world(
      'default',
      'both',
      {
        aliyun: seed.account.aliyunAccountId,
        tencent: seed.account.tencentUin,
      },
      seed,
    );
    for (const [c, credential] of seed.credentials.entries()) {
      const policies = load(credential.policies, `credentials[${c}].policies`);
      this.#principals.set(credential.accessKeyId, { world: this.default, ...(policies && { policies }) });
    }
    for (const [a, account] of seed.accounts.entries()) {
      const world = this.#world(
        account.name,
        account.cloud,
        { aliyun: account.id, tencent: account.id },
        {
          ...seed,
          credentials: account.credentials,
          aliyun: account.aliyun,
          tencent: account.tencent,
        },
      );
      this.members.set(account.name, world);
      for (const [c, credential] of account.credentials.entries()) {
        const policies = load(credential.policies, `accounts[${a}].credentials[${c}].policies`);
        this.#principals.set(credential.accessKeyId, { world, ...(policies && { policies }) });
      }
      for (const [r, role] of account.roles.entries()) {
        const path = `accounts[${a}].roles[${r}]`;
        const roleArn = roleArnOf(account.cloud, account.id, role.name);
        this.#roles.set(`${account.cloud} ${roleArn}`, {
          role: {
            cloud: account.cloud,
            roleArn,
            ...(role.maxSessionDurationSeconds && {
              maxSessionDurationSeconds: role.maxSessionDurationSeconds,
            }),
          },
          world,
          policies: load(role.policies, `${path}.policies`) ?? [],
          trust: (load([role.trustPolicy], `${path}.trustPolicy`) ?? [])[0] as PolicyDocument,
        });
      }
    }
  }

  get roles(): StsRole[] {
    return [...this.#roles.values()].map((r) => r.role);
  }

  /** The world a key acts in: its account's, or the default one (whose APIs then refuse an unknown key). */
  worldOf(accessKeyId: string | undefined): AccountWorld {
    return (accessKeyId && this.#principals.get(accessKeyId)?.world) || this.default;
  }

  /** Keys added by POST /admin/seed/add: root keys of the default account. */
  addDefaultKeys(seed: EmulatorSeed): void {
    for (const credential of seed.credentials)
      this.#principals.set(credential.accessKeyId, { world: this.default });
  }

  /**
   * Temporary credentials the STS issued for a role: they act in the role's account with the role's policies. A role
   * added through the admin API (not the seed) has none, and acts in the member account of its ARN's id, or the
   * default one, unchecked, as before policies were enforced.
   */
  registerTemporary(cloud: Cloud, accessKeyId: string, secret: string, roleArn: string): void {
    const seeded = this.#roles.get(`${cloud} ${roleArn}`);
    const accountId =
      cloud === 'aliyun' ? /^acs:ram::(\d+):/.exec(roleArn)?.[1] : /uin\/(\d+):/.exec(roleArn)?.[1];
    const world =
      seeded?.world ??
      [...this.members.values()].find((w) => w.cloud === cloud && w.ids[cloud] === accountId) ??
      this.default;
    this.#principals.set(accessKeyId, { world, ...(seeded && { policies: seeded.policies }) });
    world.secrets.set(accessKeyId, secret);
    world.ess.addKey(accessKeyId, secret);
  }

  /** The check of an AssumeRole's caller: undefined when its policies grant sts:AssumeRole on the role. */
  stsDenial(cloud: Cloud, accessKeyId: string, roleArn: string): string | undefined {
    const policies = this.#principals.get(accessKeyId)?.policies;
    if (!policies) return undefined;
    const decision = decide(policies, 'sts:AssumeRole', roleArn);
    return decision === 'allow' ? undefined : stsDenialMessage(cloud, roleArn, decision);
  }

  /** A seeded role's trust policy for this caller and external id; undefined for a role the seed does not have. */
  trusts(role: StsRole, accessKeyId: string, externalId: string | undefined): boolean | undefined {
    const seeded = this.#roles.get(`${role.cloud} ${role.roleArn}`);
    if (!seeded) return undefined;
    const caller = this.#principals.get(accessKeyId);
    if (!caller) return false;
    const context: Record<string, string> =
      externalId === undefined ? {} : { 'sts:ExternalId': externalId, 'sts:external_id': externalId };
    return trusts(seeded.trust, role.cloud, caller.world.ids[role.cloud], context);
  }

  #permit(cloud: Cloud): Permit {
    return (accessKeyId, action, scope) => {
      const principal = this.#principals.get(accessKeyId);
      if (!principal?.policies) return undefined;
      const resource = resourceOf(cloud, principal.world.ids[cloud], scope);
      const decision = decide(principal.policies, action, resource);
      return decision === 'allow' ? undefined : denialMessage(cloud, action, resource, decision);
    };
  }

  #world(
    name: string,
    cloud: AccountWorld['cloud'],
    ids: Record<Cloud, string>,
    seed: EmulatorSeed,
  ): AccountWorld {
    const secrets = new Map(seed.credentials.map((c) => [c.accessKeyId, c.accessKeySecret]));
    const state = new TencentState(seed, seed.activityDurationMs);
    return {
      name,
      cloud,
      ids,
      ess: new EssApi(seed, Date.now, this.#permit('aliyun')),
      tencent: {
        state,
        api3: new TencentApi3(state, () => secrets, Date.now, this.#permit('tencent')),
        v2: new TencentV2(state, () => secrets, Date.now, this.#permit('tencent')),
      },
      secrets,
    };
  }
}
