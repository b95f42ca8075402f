import { z } from 'zod';

export const ACTIVITY_STATUSES = ['Successful', 'Warning', 'Failed', 'Rejected'] as const;

const ResourceStatus = z.object({ id: z.string(), status: z.string() });

/** The emulator's whole world, as a seed file describes it (emulator/seed.default.json is the default). */
export const EmulatorSeed = z.object({
  credentials: z
    .array(
      z.object({
        accessKeyId: z.string(),
        accessKeySecret: z.string(),
        /** Actions this key may call; absent means all. Anything else answers Forbidden.Unauthorized. */
        allowedActions: z.array(z.string()).optional(),
      }),
    )
    .default([]),
  /** How long an activity runs before it ends (per group `activityDurationMs` wins). */
  activityDurationMs: z.number().int().nonnegative().default(1000),
  aliyun: z
    .object({
      scalingGroups: z
        .array(
          z.object({
            scalingGroupId: z.string(),
            regionId: z.string(),
            scalingGroupName: z.string().optional(),
            lifecycleState: z.enum(['Active', 'Inactive', 'Deleting']).default('Active'),
            minSize: z.number().int().nonnegative(),
            maxSize: z.number().int().nonnegative(),
            desiredCapacity: z.number().int().nonnegative().optional(),
            activeScalingConfigurationId: z.string().default('asc-emulator'),
            defaultCooldown: z.number().int().nonnegative().default(300),
            scalingPolicy: z.enum(['recycle', 'release', 'forcerelease']).default('release'),
            loadBalancers: z.array(ResourceStatus).default([]),
            /** CLB vServer groups attached to the group; each has the group's instances as backends. */
            vServerGroups: z
              .array(
                z.object({ loadBalancerId: z.string(), vServerGroupId: z.string(), port: z.number().int() }),
              )
              .default([]),
            /** ALB server groups attached to the group. */
            albServerGroups: z
              .array(z.object({ albServerGroupId: z.string(), port: z.number().int() }))
              .default([]),
            dbInstances: z.array(ResourceStatus).default([]),
            activityDurationMs: z.number().int().nonnegative().optional(),
            /** A RAM policy denying these actions on this group: they answer Forbidden.Unauthorized. */
            unauthorizedActions: z.array(z.string()).default([]),
            /** How the group's next activities end; Successful when empty. Consumed one per activity. */
            activityOutcomes: z
              .array(z.object({ status: z.enum(ACTIVITY_STATUSES), message: z.string().optional() }))
              .default([]),
          }),
        )
        .default([]),
      instances: z
        .array(
          z.object({
            instanceId: z.string(),
            scalingGroupId: z.string().optional(),
            creationType: z.enum(['AutoCreated', 'Attached', 'Managed']).default('AutoCreated'),
            lifecycleState: z.string().default('InService'),
            entrusted: z.boolean().default(false),
            zoneId: z.string().optional(),
            weightedCapacity: z.number().int().positive().default(1),
            /** The ECS instance itself: RemoveInstances releases it (Released) or recycles it (Stopped). */
            status: z.enum(['Running', 'Stopped', 'Released']).default('Running'),
          }),
        )
        .default([]),
    })
    .default({ scalingGroups: [], instances: [] }),
  tencent: z
    .object({
      groups: z
        .array(
          z.object({
            autoScalingGroupId: z.string(),
            autoScalingGroupName: z.string().optional(),
            region: z.string(),
            minSize: z.number().int().nonnegative(),
            maxSize: z.number().int().nonnegative(),
            /** Defaults to the number of seeded members. */
            desiredCapacity: z.number().int().nonnegative().optional(),
            enabled: z.boolean().default(true),
            launchConfigurationId: z.string().default('asc-emulator'),
            zones: z.array(z.string()).default([]),
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
          z.object({
            instanceId: z.string(),
            autoScalingGroupId: z.string().optional(),
            creationType: z.enum(['AUTO_CREATION', 'MANUAL_ATTACHING']).default('AUTO_CREATION'),
            lifeCycleState: z.string().default('IN_SERVICE'),
            zone: z.string().optional(),
            protectedFromScaleIn: z.boolean().default(false),
            /** The CVM itself: terminated by RemoveInstances and by v2 DetachInstance with keepInstance 0. */
            status: z.enum(['RUNNING', 'TERMINATED']).default('RUNNING'),
          }),
        )
        .default([]),
    })
    .default({ groups: [], instances: [] }),
});
export type EmulatorSeed = z.infer<typeof EmulatorSeed>;
export type SeedGroup = EmulatorSeed['aliyun']['scalingGroups'][number];
export type SeedInstance = EmulatorSeed['aliyun']['instances'][number];
export type TencentSeedGroup = EmulatorSeed['tencent']['groups'][number];
export type TencentSeedInstance = EmulatorSeed['tencent']['instances'][number];

/** Injected faults, matched in order against each cloud call. */
export const Fault = z.object({
  /** Action name to match; absent matches every action. */
  action: z.string().optional(),
  /** ScalingGroupId parameter to match, so that tests sharing one emulator do not see each other's faults. */
  scalingGroupId: z.string().optional(),
  /** Answer with this error instead of acting. */
  error: z
    .object({ code: z.string(), httpStatus: z.number().int(), message: z.string().optional() })
    .optional(),
  /** Wait before answering. */
  latencyMs: z.number().int().nonnegative().optional(),
  /** Drop the connection with no answer: before acting, or after acting (the ambiguous failure). */
  drop: z.enum(['before', 'after']).optional(),
  /** How many calls it applies to. */
  times: z.number().int().positive().default(1),
});
export type Fault = z.infer<typeof Fault>;
