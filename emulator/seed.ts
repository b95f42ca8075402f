import { z } from 'zod';
import { ESS_INSTANCE_STATES, TENCENT_INSTANCE_STATES } from '../shared/contracts/instance-states.ts';
import { PolicyRef } from './policies.ts';

export const ACTIVITY_STATUSES = ['Successful', 'Warning', 'Failed', 'Rejected'] as const;

const ResourceStatus = z.strictObject({ id: z.string(), status: z.string() });

const AccountId = z.string().regex(/^\d+$/, 'an account id is digits');

const Credentials = z
  .array(
    z.strictObject({
      accessKeyId: z.string().describe('Named once in the whole seed, every account included.'),
      accessKeySecret: z.string(),
      /** Actions this key may call; absent means all. Anything else answers Forbidden.Unauthorized. */
      allowedActions: z.array(z.string()).optional(),
      policies: z
        .array(PolicyRef)
        .optional()
        .describe(
          "The key is a RAM user / CAM sub-user holding these policies: a call outside them is refused (Forbidden.RAM, AuthFailure.UnauthorizedOperation, v2 UnauthorizedOperation). Absent: the account's root key, which may do anything, as the clouds' main-account keys may.",
        ),
    }),
  )
  .default([]);

const AliyunWorld = z
  .strictObject({
    scalingGroups: z
      .array(
        z.strictObject({
          scalingGroupId: z.string(),
          regionId: z.string(),
          scalingGroupName: z.string().optional(),
          /** The network the group launches into (DescribeScalingGroups VpcId, VSwitchId, VSwitchIds). */
          vpcId: z.string().default('vpc-emulator'),
          vSwitchIds: z.array(z.string()).default(['vsw-emulator']),
          tags: z
            .array(
              z.strictObject({ key: z.string(), value: z.string(), propagate: z.boolean().default(false) }),
            )
            .default([]),
          resourceGroupId: z.string().default('rg-emulator'),
          removalPolicies: z.array(z.string()).default(['OldestScalingConfiguration', 'OldestInstance']),
          healthCheckTypes: z.array(z.enum(['ECS', 'LOAD_BALANCER', 'NONE'])).default(['ECS']),
          multiAZPolicy: z.enum(['PRIORITY', 'COST_OPTIMIZED', 'BALANCE', 'COMPOSABLE']).default('PRIORITY'),
          launchTemplateId: z.string().default(''),
          launchTemplateVersion: z.string().default(''),
          groupDeletionProtection: z.boolean().default(false),
          lifecycleState: z.enum(['Active', 'Inactive', 'Deleting']).default('Active'),
          minSize: z.number().int().nonnegative().describe('At most maxSize.'),
          maxSize: z.number().int().nonnegative(),
          desiredCapacity: z
            .number()
            .int()
            .nonnegative()
            .optional()
            .describe('Between minSize and maxSize; defaults to the number of seeded members.'),
          activeScalingConfigurationId: z.string().default('asc-emulator'),
          defaultCooldown: z.number().int().nonnegative().default(300),
          scalingPolicy: z.enum(['recycle', 'release', 'forcerelease']).default('release'),
          loadBalancers: z.array(ResourceStatus).default([]),
          /** CLB vServer groups attached to the group; each has the group's instances as backends. */
          vServerGroups: z
            .array(
              z.strictObject({
                loadBalancerId: z.string(),
                vServerGroupId: z.string(),
                port: z.number().int(),
              }),
            )
            .default([]),
          /** ALB server groups attached to the group. */
          albServerGroups: z
            .array(z.strictObject({ albServerGroupId: z.string(), port: z.number().int() }))
            .default([]),
          dbInstances: z.array(ResourceStatus).default([]),
          activityDurationMs: z.number().int().nonnegative().optional(),
          /** A RAM policy denying these actions on this group: they answer Forbidden.Unauthorized. */
          unauthorizedActions: z.array(z.string()).default([]),
          /** How the group's next activities end; Successful when empty. Consumed one per activity. */
          activityOutcomes: z
            .array(z.strictObject({ status: z.enum(ACTIVITY_STATUSES), message: z.string().optional() }))
            .default([]),
        }),
      )
      .default([]),
    instances: z
      .array(
        z.strictObject({
          instanceId: z.string().describe("Named once among the seed's ESS instances."),
          scalingGroupId: z
            .string()
            .optional()
            .describe('A scalingGroupId of this seed (for POST /admin/seed/add: or of the running world).'),
          creationType: z.enum(['AutoCreated', 'Attached', 'Managed']).default('AutoCreated'),
          lifecycleState: z
            .enum(Object.keys(ESS_INSTANCE_STATES) as [keyof typeof ESS_INSTANCE_STATES])
            .default('InService'),
          entrusted: z.boolean().default(false),
          zoneId: z.string().optional(),
          weightedCapacity: z.number().int().positive().default(1),
          /** Default: an address of 172.16.0.0/12 derived from the instance id. */
          privateIpAddress: z.string().optional(),
          spotStrategy: z.enum(['NoSpot', 'SpotWithPriceLimit', 'SpotAsPriceGo']).default('NoSpot'),
          loadBalancerWeight: z.number().int().min(0).max(100).default(50),
          /** The ECS instance itself: RemoveInstances releases it (Released) or recycles it (Stopped). */
          status: z.enum(['Running', 'Stopped', 'Released']).default('Running'),
        }),
      )
      .default([]),
  })
  .default({ scalingGroups: [], instances: [] });

const TencentWorld = z
  .strictObject({
    groups: z
      .array(
        z.strictObject({
          autoScalingGroupId: z.string(),
          autoScalingGroupName: z.string().optional(),
          region: z.string(),
          minSize: z.number().int().nonnegative().describe('At most maxSize.'),
          maxSize: z.number().int().nonnegative(),
          /** Defaults to the number of seeded members. */
          desiredCapacity: z
            .number()
            .int()
            .nonnegative()
            .optional()
            .describe('Between minSize and maxSize; defaults to the number of seeded members.'),
          enabled: z.boolean().default(true),
          launchConfigurationId: z.string().default('asc-emulator'),
          zones: z.array(z.string()).default([]),
          /** The network the group launches into (DescribeAutoScalingGroups VpcId, SubnetIdSet). */
          vpcId: z.string().default('vpc-emulator'),
          subnetIds: z.array(z.string()).default([]),
          tags: z.array(z.strictObject({ key: z.string(), value: z.string() })).default([]),
          projectId: z.number().int().nonnegative().default(0),
          activityDurationMs: z.number().int().nonnegative().optional(),
          /** How the next activities end: SUCCESSFUL when empty; PARTIALLY_SUCCESSFUL fails all but the first instance. */
          activityOutcomes: z
            .array(z.enum(['SUCCESSFUL', 'PARTIALLY_SUCCESSFUL', 'FAILED', 'CANCELLED']))
            .default([]),
        }),
      )
      .default([]),
    instances: z
      .array(
        z.strictObject({
          instanceId: z.string().describe("Named once among the seed's Tencent instances."),
          autoScalingGroupId: z
            .string()
            .optional()
            .describe(
              'An autoScalingGroupId of this seed (for POST /admin/seed/add: or of the running world).',
            ),
          creationType: z.enum(['AUTO_CREATION', 'MANUAL_ATTACHING']).default('AUTO_CREATION'),
          lifeCycleState: z
            .enum(Object.keys(TENCENT_INSTANCE_STATES) as [keyof typeof TENCENT_INSTANCE_STATES])
            .default('IN_SERVICE'),
          zone: z.string().optional(),
          protectedFromScaleIn: z.boolean().default(false),
          /** The CVM itself: terminated by RemoveInstances and by v2 DetachInstance with keepInstance 0. */
          status: z.enum(['RUNNING', 'TERMINATED']).default('RUNNING'),
        }),
      )
      .default([]),
  })
  .default({ groups: [], instances: [] });

/** A role in a member account: what it may do, and whom it trusts (its ARN is made of the account id and name). */
const MemberRole = z.strictObject({
  name: z.string().regex(/^[A-Za-z0-9._-]+$/),
  policies: z.array(PolicyRef).default([]),
  trustPolicy: PolicyRef.describe(
    'Who may assume the role: principals (`acs:ram::<id>:root`, `qcs::cam::uin/<uin>:root`) and the external id condition.',
  ),
  maxSessionDurationSeconds: z.number().int().positive().optional(),
});

const MemberAccount = z.strictObject({
  name: z.string().regex(/^[a-z0-9-]{1,32}$/),
  cloud: z.enum(['aliyun', 'tencent']),
  /** The Alibaba account id (uid) or Tencent uin. */
  id: AccountId,
  credentials: Credentials,
  roles: z.array(MemberRole).default([]),
  aliyun: AliyunWorld.describe("Only in an aliyun account: the account's ESS groups and instances."),
  tencent: TencentWorld.describe("Only in a tencent account: the account's AS groups and instances."),
});

/** The emulator's whole world, as a seed file describes it (emulator/seed.default.json is the default). */
const SeedShape = z.strictObject({
  /** Where an editor finds this format (seed.schema.json). */
  $schema: z.string().optional(),
  /** The default (deployment) account's keys. */
  credentials: Credentials,
  /** The default account's own ids: who it is in trust policies and in the resources its keys' policies name. */
  account: z
    .strictObject({
      aliyunAccountId: AccountId.default('1000000000000001'),
      tencentUin: AccountId.default('100000000001'),
    })
    .default({ aliyunAccountId: '1000000000000001', tencentUin: '100000000001' }),
  /** How long an activity runs before it ends (per group `activityDurationMs` wins). */
  activityDurationMs: z.number().int().nonnegative().default(1000),
  aliyun: AliyunWorld,
  tencent: TencentWorld,
  /** Member accounts, each with its own keys, roles, groups and instances, seen only with its own credentials. */
  accounts: z.array(MemberAccount).default([]),
  /** The emulator's STS: `lifetimeSeconds` gives every credential issued that life (POST /admin/sts/settings too). */
  sts: z.strictObject({ lifetimeSeconds: z.number().positive().optional() }).optional(),
});
type SeedShape = z.infer<typeof SeedShape>;

/**
 * What a seed must hold together, beyond each field's type: groups whose sizes make sense, ids named once, and
 * (unless the groups are elsewhere, as for POST /admin/seed/add) instances that name a group of the seed.
 */
function checkSeed(seed: SeedShape, context: z.RefinementCtx, groupsElsewhere: boolean): void {
  checkWorld([], seed, context, groupsElsewhere);
  const issue = (path: (string | number)[], message: string) =>
    context.addIssue({ code: 'custom', path, message });
  const keys = new Set(seed.credentials.map((c) => c.accessKeyId));
  const names = new Set<string>();
  const ids = new Set([`aliyun ${seed.account.aliyunAccountId}`, `tencent ${seed.account.tencentUin}`]);
  for (const [index, account] of seed.accounts.entries()) {
    const path = ['accounts', index];
    if (names.has(account.name)) issue([...path, 'name'], `account "${account.name}" is named twice`);
    names.add(account.name);
    if (ids.has(`${account.cloud} ${account.id}`))
      issue([...path, 'id'], `${account.cloud} account id "${account.id}" is named twice`);
    ids.add(`${account.cloud} ${account.id}`);
    const other = account.cloud === 'aliyun' ? account.tencent : account.aliyun;
    const otherCloud = account.cloud === 'aliyun' ? 'tencent' : 'aliyun';
    if (Object.values(other).some((list) => list.length > 0))
      issue([...path, otherCloud], `a ${account.cloud} account has no ${otherCloud} groups or instances`);
    for (const [k, credential] of account.credentials.entries()) {
      if (keys.has(credential.accessKeyId))
        issue([...path, 'credentials', k], `accessKeyId "${credential.accessKeyId}" is named twice`);
      keys.add(credential.accessKeyId);
    }
    const roles = new Set<string>();
    for (const [r, role] of account.roles.entries()) {
      if (roles.has(role.name)) issue([...path, 'roles', r, 'name'], `role "${role.name}" is named twice`);
      roles.add(role.name);
    }
    checkWorld(path, account, context, groupsElsewhere);
  }
}

/** One account's groups, instances and keys. */
function checkWorld(
  prefix: (string | number)[],
  seed: Pick<SeedShape, 'aliyun' | 'tencent' | 'credentials'>,
  context: z.RefinementCtx,
  groupsElsewhere: boolean,
): void {
  const issue = (path: (string | number)[], message: string) =>
    context.addIssue({ code: 'custom', path: [...prefix, ...path], message });
  const checkSizes = (
    cloud: 'aliyun' | 'tencent',
    list: string,
    groups: { minSize: number; maxSize: number; desiredCapacity?: number | undefined }[],
  ) => {
    for (const [index, group] of groups.entries()) {
      if (group.minSize > group.maxSize)
        issue([cloud, list, index, 'minSize'], `minSize ${group.minSize} is above maxSize ${group.maxSize}`);
      const desired = group.desiredCapacity;
      if (desired !== undefined && (desired < group.minSize || desired > group.maxSize))
        issue(
          [cloud, list, index, 'desiredCapacity'],
          `desiredCapacity ${desired} is outside minSize ${group.minSize} .. maxSize ${group.maxSize}`,
        );
    }
  };
  const checkUnique = (path: (string | number)[], ids: string[], what: string) => {
    const seen = new Set<string>();
    for (const [index, id] of ids.entries()) {
      if (seen.has(id)) issue([...path, index], `${what} "${id}" is named twice`);
      seen.add(id);
    }
  };
  const checkMembership = (
    path: (string | number)[],
    instances: { groupId: string | undefined }[],
    groups: Set<string>,
    groupKey: string,
  ) => {
    if (groupsElsewhere) return;
    for (const [index, instance] of instances.entries())
      if (instance.groupId !== undefined && !groups.has(instance.groupId))
        issue([...path, index, groupKey], `names group "${instance.groupId}", which the seed does not have`);
  };
  const { aliyun, tencent } = seed;
  checkSizes('aliyun', 'scalingGroups', aliyun.scalingGroups);
  checkSizes('tencent', 'groups', tencent.groups);
  checkUnique(
    ['credentials'],
    seed.credentials.map((c) => c.accessKeyId),
    'accessKeyId',
  );
  checkUnique(
    ['aliyun', 'scalingGroups'],
    aliyun.scalingGroups.map((g) => g.scalingGroupId),
    'scalingGroupId',
  );
  checkUnique(
    ['aliyun', 'instances'],
    aliyun.instances.map((i) => i.instanceId),
    'instanceId',
  );
  checkUnique(
    ['tencent', 'groups'],
    tencent.groups.map((g) => g.autoScalingGroupId),
    'autoScalingGroupId',
  );
  checkUnique(
    ['tencent', 'instances'],
    tencent.instances.map((i) => i.instanceId),
    'instanceId',
  );
  checkMembership(
    ['aliyun', 'instances'],
    aliyun.instances.map((i) => ({ groupId: i.scalingGroupId })),
    new Set(aliyun.scalingGroups.map((g) => g.scalingGroupId)),
    'scalingGroupId',
  );
  checkMembership(
    ['tencent', 'instances'],
    tencent.instances.map((i) => ({ groupId: i.autoScalingGroupId })),
    new Set(tencent.groups.map((g) => g.autoScalingGroupId)),
    'autoScalingGroupId',
  );
}

/** The emulator's whole world, as a seed file describes it (emulator/seed.default.json is the default). */
export const EmulatorSeed = SeedShape.superRefine((seed, context) => checkSeed(seed, context, false));
/** Groups, instances and credentials added to a running world (POST /admin/seed/add): groups may be there already. */
export const SeedAddition = SeedShape.superRefine((seed, context) => checkSeed(seed, context, true));

/** The one line a seed that does not hold is refused with: where, what, and for an unknown key the nearest known one. */
export function describeSeedError(error: z.ZodError): string {
  return error.issues
    .map((issue) => {
      const where = pathText(issue.path) || '(the seed)';
      if (issue.code !== 'unrecognized_keys') return `${where}: ${issue.message}`;
      const known = knownKeysAt(SeedShape, issue.path);
      return issue.keys
        .map((key) => {
          const nearest = nearestOf(key, known);
          return `${pathText([...issue.path, key])}: unknown key${nearest ? ` (did you mean "${nearest}"?)` : ''}`;
        })
        .join('; ');
    })
    .join('; ');
}

const pathText = (path: PropertyKey[]): string =>
  path
    .map((part, i) => (typeof part === 'number' ? `[${part}]` : `${i === 0 ? '' : '.'}${String(part)}`))
    .join('');

/** The keys the seed's schema knows at `path` (an object's), following arrays, defaults and optionals. */
function knownKeysAt(schema: z.ZodType, path: PropertyKey[]): string[] {
  let node: z.ZodType | undefined = schema;
  const unwrap = (n: z.ZodType): z.ZodType => {
    let current = n;
    for (;;) {
      const def = current.def as { type: string; innerType?: z.ZodType; in?: z.ZodType };
      if (def.innerType) current = def.innerType;
      else if (def.type === 'pipe' && def.in) current = def.in;
      else return current;
    }
  };
  for (const part of path) {
    if (!node) return [];
    node = unwrap(node);
    if (node instanceof z.ZodArray) node = node.element as z.ZodType;
    else if (node instanceof z.ZodObject) node = (node.shape as Record<string, z.ZodType>)[String(part)];
    else return [];
  }
  if (!node) return [];
  node = unwrap(node);
  return node instanceof z.ZodObject ? Object.keys(node.shape) : [];
}

function nearestOf(key: string, known: string[]): string | undefined {
  let best: { name: string; distance: number } | undefined;
  for (const name of known) {
    const distance = editDistance(key.toLowerCase(), name.toLowerCase());
    if (!best || distance < best.distance) best = { name, distance };
  }
  // Past half the key's length it is a different word, not a misspelling.
  return best && best.distance <= Math.max(2, Math.ceil(key.length / 2)) ? best.name : undefined;
}

function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let diagonal = row[0] as number;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const above = row[j] as number;
      row[j] = Math.min(above + 1, (row[j - 1] as number) + 1, diagonal + (a[i - 1] === b[j - 1] ? 0 : 1));
      diagonal = above;
    }
  }
  return row[b.length] as number;
}

export type EmulatorSeed = z.infer<typeof EmulatorSeed>;
export type SeedGroup = EmulatorSeed['aliyun']['scalingGroups'][number];
export type SeedInstance = EmulatorSeed['aliyun']['instances'][number];
export type TencentSeedGroup = EmulatorSeed['tencent']['groups'][number];
export type TencentSeedInstance = EmulatorSeed['tencent']['instances'][number];

/** Injected faults, matched in order against each cloud call. */
export const Fault = z.strictObject({
  /** Action name to match; absent matches every action. */
  action: z.string().optional(),
  /** ScalingGroupId parameter to match, so that tests sharing one emulator do not see each other's faults. */
  scalingGroupId: z.string().optional(),
  /** Answer with this error instead of acting. */
  error: z
    .strictObject({ code: z.string(), httpStatus: z.number().int(), message: z.string().optional() })
    .optional(),
  /** Wait before answering. */
  latencyMs: z.number().int().nonnegative().optional(),
  /** Drop the connection with no answer: before acting, or after acting (the ambiguous failure). */
  drop: z.enum(['before', 'after']).optional(),
  /** How many calls it applies to. */
  times: z.number().int().positive().default(1),
});
export type Fault = z.infer<typeof Fault>;
