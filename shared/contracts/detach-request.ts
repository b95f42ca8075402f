import { z } from 'zod';

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

export const AliyunRegion = z
  .string()
  .regex(/^[a-z]{2,3}(-[a-z0-9]+){1,3}$/, 'must be a region id such as cn-hangzhou');
export const EssScalingGroupId = z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'must be a scaling group id');
export const EcsInstanceId = z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'must be an instance id');

const uniqueIds = (ids: string[]) => new Set(ids).size === ids.length;

/** ESS DetachInstances (seed: aliyun-ess-DetachInstances.md; optional parameters: specs/aliyun-ess.md §5). */
export const AliyunDetachInstancesRequest = z.strictObject({
  requestId: RequestId,
  provider: z.literal('aliyun'),
  region: AliyunRegion,
  scalingGroupId: EssScalingGroupId,
  instanceIds: z
    .array(EcsInstanceId)
    .min(1, 'at least one instance id')
    .max(20, 'at most 20 instance ids per request (InstanceId.N, N = 1..20)')
    .refine(uniqueIds, 'instance ids must be unique'),
  /** Default true at ESS: lower the desired capacity by the number detached. */
  decreaseDesiredCapacity: z.boolean().optional(),
  /** Only value `both`: also remove the instances from attached CLB groups and RDS whitelists. */
  detachOption: z.literal('both').optional(),
  /** Default false: whether scale-in lifecycle hooks run. */
  lifecycleHook: z.boolean().optional(),
  /** Default false. True: invalid ids are skipped and the activity ends in Warning (Partial). */
  ignoreInvalidInstance: z.boolean().optional(),
  /** Optional HTTPS endpoint that receives the signed completion event. */
  callbackUrl: z.url({ protocol: /^https?$/ }).optional(),
});
export type AliyunDetachInstancesRequest = z.infer<typeof AliyunDetachInstancesRequest>;

export const DetachInstancesRequest = z.discriminatedUnion('provider', [AliyunDetachInstancesRequest]);
export type DetachInstancesRequest = z.infer<typeof DetachInstancesRequest>;

export const ACTIONS = ['detach-instances'] as const;
export const Action = z.enum(ACTIONS);
export type Action = z.infer<typeof Action>;
