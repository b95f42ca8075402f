import * as z from 'zod';

/** The ESS RPC API's request parameters, and the shapes of its answers the client reads (checked with zod). */

export type EssParams = Record<string, string | number | boolean | undefined>;

const numeric = z.union([z.number(), z.string()]).transform((value) => Number(value));

export const EssErrorBody = z.object({
  Code: z.string(),
  Message: z.string().default(''),
  RequestId: z.string().optional(),
});
export const MutationResponse = z.object({ RequestId: z.string(), ScalingActivityId: z.string().optional() });

export const EssActivity = z.object({
  ScalingActivityId: z.string(),
  ScalingGroupId: z.string().optional(),
  StatusCode: z.string(),
  StatusMessage: z.string().optional(),
  Progress: numeric.optional(),
  ErrorCode: z.string().optional(),
  ErrorMessage: z.string().optional(),
  StartTime: z.string().optional(),
  EndTime: z.string().optional(),
  /** RemoveInstances: instances released, and instances put into Economical Mode. */
  DestroyedInstances: z.object({ DestroyedInstance: z.array(z.string()) }).optional(),
  StoppedInstances: z.object({ StoppedInstance: z.array(z.string()) }).optional(),
});
export type EssActivity = z.infer<typeof EssActivity>;
export const ActivitiesResponse = z.object({
  RequestId: z.string(),
  TotalCount: numeric.optional(),
  ScalingActivities: z.object({ ScalingActivity: z.array(EssActivity) }),
});

export const EssScalingGroup = z.looseObject({
  ScalingGroupId: z.string(),
  LifecycleState: z.string(),
  MinSize: numeric,
  MaxSize: numeric,
  TotalCapacity: numeric.optional(),
  VServerGroups: z
    .object({
      VServerGroup: z.array(
        z.object({
          LoadBalancerId: z.string(),
          VServerGroupAttributes: z.object({
            VServerGroupAttribute: z.array(z.object({ VServerGroupId: z.string(), Port: numeric })),
          }),
        }),
      ),
    })
    .optional(),
  AlbServerGroups: z
    .object({ AlbServerGroup: z.array(z.object({ AlbServerGroupId: z.string(), Port: numeric })) })
    .optional(),
});
export type EssScalingGroup = z.infer<typeof EssScalingGroup>;
export const GroupsResponse = z.object({
  RequestId: z.string(),
  ScalingGroups: z.object({ ScalingGroup: z.array(EssScalingGroup) }),
});

export const EssScalingInstance = z.looseObject({
  InstanceId: z.string(),
  ScalingGroupId: z.string(),
  LifecycleState: z.string(),
  CreationType: z.string().optional(),
});
export const InstancesResponse = z.object({
  RequestId: z.string(),
  TotalCount: numeric,
  ScalingInstances: z.object({ ScalingInstance: z.array(EssScalingInstance) }),
});

/** `Name.1 .. Name.N` as the RPC API flattens lists. */
export const flattenList = (name: string, values: readonly string[], into: EssParams = {}): EssParams => {
  for (const [index, value] of values.entries()) into[listItemName(name, index)] = value;
  return into;
};

/**
 * `Name.N`, made once: a name built on every call is a new string for every property it sets. Bounded by the
 * lists of this client (a few names, up to 100 items each).
 */
const listItemNames = new Map<string, string[]>();
function listItemName(name: string, index: number): string {
  let names = listItemNames.get(name);
  if (!names) {
    names = [];
    listItemNames.set(name, names);
  }
  names[index] ??= `${name}.${index + 1}`;
  return names[index];
}
