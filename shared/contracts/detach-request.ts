import * as z from 'zod';
import { lazySchema } from './lazy-schema.ts';

/**
 * The request id is the idempotency key end to end: SQS deduplication id, ledger key and the cloud's
 * ClientToken (ESS: at most 64 ASCII characters, case-sensitive). So it is restricted to what all three accept.
 */
export const RequestId = z
  .string()
  .regex(
    /^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$/,
    'must be 1-64 characters of A-Z a-z 0-9 . _ : - (it is used as the ClientToken)',
  );

/** ESS ClientToken: at most 64 ASCII characters (seed: aliyun-ess-DetachAlbServerGroups.md). */
export const ClientToken = z.string().regex(/^[\x20-\x7e]{1,64}$/, 'must be 1-64 printable ASCII characters');

/**
 * Every field is bounded, so that a whole request always fits a ledger item (DynamoDB: 400 KB) and an event: a
 * body SQS accepts but the ledger could not store is refused on its first delivery, naming the field.
 */
const MAX_REGION = 64;
/** Longer than any URL a browser or a load balancer is expected to take. */
export const MAX_CALLBACK_URL = 2048;

/** Optional HTTP(S) endpoint that receives the signed completion event. */
const CallbackUrl = () =>
  z.url({ protocol: /^https?$/ }).max(MAX_CALLBACK_URL, `must be at most ${MAX_CALLBACK_URL} characters`);

export const AliyunRegion = z
  .string()
  .max(MAX_REGION, `must be at most ${MAX_REGION} characters`)
  .regex(/^[a-z]{2,3}(-[a-z0-9]+){1,3}$/, 'must be a region id such as cn-hangzhou');
export const EssScalingGroupId = z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'must be a scaling group id');
export const EcsInstanceId = z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'must be an instance id');
const ResourceId = z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'must be a resource id');
const Port = z.number().int().min(1, 'ports are 1-65535').max(65535, 'ports are 1-65535');

const unique =
  <T>(key: (item: T) => string) =>
  (items: T[]) =>
    new Set(items.map(key)).size === items.length;

/** What every ESS request carries. */
const essBase = () => ({
  requestId: RequestId,
  provider: z.literal('aliyun'),
  region: AliyunRegion,
  scalingGroupId: EssScalingGroupId,
  /** Your own idempotency token for the cloud; the request id is used when absent. */
  clientToken: ClientToken.optional(),
  /** Optional HTTP(S) endpoint that receives the signed completion event. */
  callbackUrl: CallbackUrl().optional(),
  account: z
    .string()
    .regex(/^[a-z0-9-]{1,32}$/)
    .optional(),
});

/** For the instance actions: read the group first, and optionally stop at the plan. */
const planning = () => ({
  /**
   * Default true: before calling, read the group and the instances. Instances already out of the group count as
   * done; a group that is not active, a request that would take it below MinSize, or instances in a state the
   * API refuses end the request without a cloud call.
   */
  preflight: z.boolean().default(true),
  /** True: only plan. The request ends with a DryRun event carrying the plan; nothing is sent to the cloud. */
  dryRun: z.boolean().default(false),
});

const InstanceIds = () =>
  z
    .array(EcsInstanceId)
    .min(1, 'at least one instance id')
    .max(20, 'at most 20 instance ids per request (InstanceId.N, N = 1..20)')
    .refine(
      unique((id: string) => id),
      'instance ids must be unique',
    );

/** ESS DetachInstances (seed: docs/reference/seeds/aliyun-ess-DetachInstances.md; optional parameters: docs/reference/aliyun-ess.md §5). */
export const AliyunDetachInstancesRequest = lazySchema(() =>
  z.strictObject({
    ...essBase(),
    instanceIds: InstanceIds(),
    ...planning(),
    /** Default true at ESS: lower the desired capacity by the number detached. */
    decreaseDesiredCapacity: z.boolean().optional(),
    /** Only value `both`: also remove the instances from attached CLB groups and RDS whitelists. */
    detachOption: z.literal('both').optional(),
    /** Default false: whether scale-in lifecycle hooks run. */
    lifecycleHook: z.boolean().optional(),
    /** Default false. True: invalid ids are skipped and the activity ends in Warning (Partial). */
    ignoreInvalidInstance: z.boolean().optional(),
  }),
);

/** ESS RemoveInstances (seed: aliyun-ess-RemoveInstances.md). */
export const AliyunRemoveInstancesRequest = lazySchema(() =>
  z.strictObject({
    ...essBase(),
    instanceIds: InstanceIds(),
    ...planning(),
    /** release (default): AutoCreated instances are released; recycle: stopped, not charged (recycle groups only). */
    removePolicy: z.enum(['release', 'recycle']).default('release'),
    decreaseDesiredCapacity: z.boolean().optional(),
    ignoreInvalidInstance: z.boolean().optional(),
    /** 30-240 s; only used with release. */
    stopInstanceTimeout: z.number().int().min(30).max(240).optional(),
  }),
);

/** ESS DetachVServerGroups (seed: aliyun-ess-DetachVServerGroups.md): at most 5 load balancers x 5 groups. */
export const AliyunDetachVServerGroupsRequest = lazySchema(() =>
  z.strictObject({
    ...essBase(),
    vServerGroups: z
      .array(
        z.strictObject({
          loadBalancerId: ResourceId,
          vServerGroupAttributes: z
            .array(z.strictObject({ vServerGroupId: ResourceId, port: Port }))
            .min(1, 'at least one vServer group per load balancer')
            .max(5, 'at most 5 vServer groups per load balancer'),
        }),
      )
      .min(1, 'at least one load balancer')
      .max(5, 'at most 5 load balancers per request')
      .refine(
        unique((lb: { loadBalancerId: string }) => lb.loadBalancerId),
        'each load balancer once',
      ),
    /** Default false. True also takes the group's current instances out of the vServer groups. */
    forceDetach: z.boolean().optional(),
  }),
);

/** ESS DetachAlbServerGroups (seed: aliyun-ess-DetachAlbServerGroups.md). */
export const AliyunDetachAlbServerGroupsRequest = lazySchema(() =>
  z.strictObject({
    ...essBase(),
    albServerGroups: z
      .array(z.strictObject({ albServerGroupId: ResourceId, port: Port }))
      .min(1, 'at least one ALB server group')
      .max(5, 'at most 5 ALB server groups per request')
      .refine(
        unique(
          (group: { albServerGroupId: string; port: number }) => `${group.albServerGroupId}:${group.port}`,
        ),
        'each server group and port once',
      ),
    /** Default false. True also takes the current instances out, as a scaling activity. */
    forceDetach: z.boolean().optional(),
  }),
);

/** Tencent regions: `ap-guangzhou` style, or the legacy v2 short codes (`gz`, `bj`, ...). */
export const TencentRegion = z
  .string()
  .max(MAX_REGION, `must be at most ${MAX_REGION} characters`)
  .regex(
    /^([a-z]{2,3}|[a-z]{2,3}(-[a-z]+){1,2}(-\d+)?)$/,
    'must be a region such as ap-guangzhou (or a v2 short code such as gz)',
  );

const tencentBase = () => ({
  requestId: RequestId,
  provider: z.literal('tencent'),
  region: TencentRegion,
  scalingGroupId: z.string().regex(/^asg-[A-Za-z0-9]{1,61}$/, 'must be an auto scaling group id (asg-...)'),
  callbackUrl: CallbackUrl().optional(),
  account: z
    .string()
    .regex(/^[a-z0-9-]{1,32}$/)
    .optional(),
});

/** Tencent documents no maximum for InstanceIds; 100 is what one DescribeAutoScalingActivities call can follow. */
const TencentInstanceIds = () =>
  z
    .array(z.string().regex(/^ins-[A-Za-z0-9]{1,60}$/, 'must be a CVM instance id (ins-...)'))
    .min(1, 'at least one instance id')
    .max(100, 'at most 100 instance ids per request')
    .refine(
      unique((id: string) => id),
      'instance ids must be unique',
    );

/**
 * Tencent has no such parameter; the preflight honours it: named instances that are not in the group (and that
 * this service never took out) are reported as `notInGroup` without failing the request.
 */
const tencentIgnoreInvalid = () => ({ ignoreInvalidInstance: z.boolean().optional() });

/**
 * Tencent AS DetachInstances: API 3.0 (`2018-04-19`, the default; returns an ActivityId), or the legacy v2
 * DetachInstance (seed: tencent-as-v2-DetachInstance.md; no activity id; `keepInstance` 0 terminates the
 * auto-created instances, 1 keeps them).
 */
export const TencentDetachInstancesRequest = lazySchema(() =>
  z.strictObject({
    ...tencentBase(),
    instanceIds: TencentInstanceIds(),
    ...planning(),
    ...tencentIgnoreInvalid(),
    apiVersion: z.enum(['2018-04-19', 'v2']).default('2018-04-19'),
    keepInstance: z.union([z.literal(0), z.literal(1)]).optional(),
  }),
);

/** Tencent AS API 3.0 RemoveInstances: auto-created instances are terminated, manually added ones detached. */
export const TencentRemoveInstancesRequest = lazySchema(() =>
  z.strictObject({
    ...tencentBase(),
    instanceIds: TencentInstanceIds(),
    ...planning(),
    ...tencentIgnoreInvalid(),
  }),
);

export const DetachInstancesRequest = lazySchema(() =>
  z
    .discriminatedUnion('provider', [AliyunDetachInstancesRequest, TencentDetachInstancesRequest])
    .refine(
      (request) =>
        request.provider !== 'tencent' || request.keepInstance === undefined || request.apiVersion === 'v2',
      {
        path: ['keepInstance'],
        message:
          'keepInstance belongs to the v2 API (apiVersion "v2"); API 3.0 DetachInstances never terminates instances',
      },
    ),
);
export type DetachInstancesRequest = z.infer<typeof DetachInstancesRequest>;
export const RemoveInstancesRequest = lazySchema(() =>
  z.discriminatedUnion('provider', [AliyunRemoveInstancesRequest, TencentRemoveInstancesRequest]),
);
export type RemoveInstancesRequest = z.infer<typeof RemoveInstancesRequest>;
export const DetachVServerGroupsRequest = lazySchema(() =>
  z.discriminatedUnion('provider', [AliyunDetachVServerGroupsRequest]),
);
export type DetachVServerGroupsRequest = z.infer<typeof DetachVServerGroupsRequest>;
export const DetachAlbServerGroupsRequest = lazySchema(() =>
  z.discriminatedUnion('provider', [AliyunDetachAlbServerGroupsRequest]),
);
export type DetachAlbServerGroupsRequest = z.infer<typeof DetachAlbServerGroupsRequest>;

/** Each action's request contract, keyed by the action (one queue and one function per action). */
export const REQUEST_SCHEMAS = {
  'detach-instances': DetachInstancesRequest,
  'remove-instances': RemoveInstancesRequest,
  'detach-vserver-groups': DetachVServerGroupsRequest,
  'detach-alb-server-groups': DetachAlbServerGroupsRequest,
} as const;

export type Action = keyof typeof REQUEST_SCHEMAS;
export const ACTIONS = Object.keys(REQUEST_SCHEMAS) as Action[];
export const Action = z.enum(ACTIONS as [Action, ...Action[]]);

export interface RequestOf {
  'detach-instances': DetachInstancesRequest;
  'remove-instances': RemoveInstancesRequest;
  'detach-vserver-groups': DetachVServerGroupsRequest;
  'detach-alb-server-groups': DetachAlbServerGroupsRequest;
}

/**
 * A validated request together with its action: what the ledger keeps and the providers act on. Mapped over `A`
 * itself, so that code generic in the action (`actionRequestOf`) is checked to pair each action with its request.
 */
export type ActionRequestOf<A extends Action> = { [K in A]: { action: K; request: RequestOf[K] } }[A];
export type ActionRequest = ActionRequestOf<Action>;

/** Each action's contract typed by the action, so that a parse by a (generic) action returns that action's request. */
const SCHEMA_OF_ACTION: { [A in Action]: z.ZodType<RequestOf[A]> } = REQUEST_SCHEMAS;
export const requestSchemaOf = <A extends Action>(action: A): z.ZodType<RequestOf[A]> =>
  SCHEMA_OF_ACTION[action];

/** The action and request of anything that holds both side by side (a record, an operation), as one pair. */
export const actionRequestOf = <A extends Action>(of: {
  action: A;
  request: RequestOf[A];
}): ActionRequestOf<A> => ({
  action: of.action,
  request: of.request,
});

/** The same call with these instance ids (a merged call's, a preflight's read), or as it is without any. */
export const withInstanceIds = <A extends Action>(
  of: { action: A; request: RequestOf[A] },
  instanceIds: string[] | undefined,
): ActionRequestOf<A> => ({
  action: of.action,
  request: { ...of.request, ...(instanceIds && { instanceIds }) },
});

/** Any action's request. */
export type DetachRequest = RequestOf[Action];
export const DetachRequest = lazySchema(() =>
  z.union([
    DetachInstancesRequest,
    RemoveInstancesRequest,
    DetachVServerGroupsRequest,
    DetachAlbServerGroupsRequest,
  ]),
);

/** The token a request's first cloud call is derived from: its own clientToken, or its request id (see tokenFor). */
export const clientTokenOf = (request: DetachRequest): string =>
  ('clientToken' in request && request.clientToken) || request.requestId;

/**
 * What records, answers and events repeat of a request: where it acts and what it takes out. Every field is
 * optional: a message rejected before it was a request has none of them.
 */
export const RequestSummary = z.object({
  provider: z.string().optional(),
  region: z.string().optional(),
  scalingGroupId: z.string().optional(),
  /** The member account the request acts in (issue #21); absent: the deployment's own keys. */
  account: z.string().optional(),
  instanceIds: z.array(z.string()).optional(),
  serverGroupIds: z.array(z.string()).optional(),
});
export type RequestSummary = z.infer<typeof RequestSummary>;

/** What the request takes out of the group: instance ids, or server group ids. */
export function targetsOf(request: DetachRequest): Pick<RequestSummary, 'instanceIds' | 'serverGroupIds'> {
  if ('instanceIds' in request) return { instanceIds: request.instanceIds };
  if ('vServerGroups' in request) {
    return {
      serverGroupIds: request.vServerGroups.flatMap((lb) =>
        lb.vServerGroupAttributes.map((a) => a.vServerGroupId),
      ),
    };
  }
  return { serverGroupIds: request.albServerGroups.map((group) => group.albServerGroupId) };
}
