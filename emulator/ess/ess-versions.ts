/**
 * ESS serves two API versions with the same actions: 2014-08-28 (lists wrapped in an object,
 * `{"ScalingGroups":{"ScalingGroup":[...]}}`, list parameters named in the singular, `InstanceId.N`) and
 * 2022-02-22 (plain arrays, list parameters in the plural, `InstanceIds.N`), which the generated SDKs of
 * today send. The emulator acts on the 2014 parameter names and builds its answers in the 2022 shape; these
 * two functions translate at the edges.
 */

export const ESS_VERSIONS = ['2014-08-28', '2022-02-22'] as const;
export type EssVersion = (typeof ESS_VERSIONS)[number];

export const isEssVersion = (version: string | undefined): version is EssVersion =>
  (ESS_VERSIONS as readonly (string | undefined)[]).includes(version);

/** 2022-02-22 list parameter prefixes and the 2014-08-28 names the actions read. */
const PLURAL_PARAMS: [RegExp, string][] = [
  [/^InstanceIds\.(\d+)$/, 'InstanceId.$1'],
  [/^ScalingActivityIds\.(\d+)$/, 'ScalingActivityId.$1'],
  [/^ScalingGroupIds\.(\d+)$/, 'ScalingGroupId.$1'],
  [
    /^VServerGroups\.(\d+)\.VServerGroupAttributes\.(\d+)\.(\w+)$/,
    'VServerGroup.$1.VServerGroupAttribute.$2.$3',
  ],
  [/^VServerGroups\.(\d+)\.(\w+)$/, 'VServerGroup.$1.$2'],
  [/^AlbServerGroups\.(\d+)\.(\w+)$/, 'AlbServerGroup.$1.$2'],
];

/** A 2022-02-22 call's parameters under the 2014-08-28 names (the signature was checked on the originals). */
export function paramsOf2014(params: Record<string, string>): Record<string, string> {
  const renamed: Record<string, string> = {};
  for (const [key, value] of Object.entries(params)) {
    const rule = PLURAL_PARAMS.find(([pattern]) => pattern.test(key));
    renamed[rule ? key.replace(rule[0], rule[1]) : key] = value;
  }
  return renamed;
}

/**
 * Where 2014-08-28 wraps a list: the key, the element name inside the wrapper, and what to wrap inside each
 * element. A plain object (no element name) recurses into an object field without wrapping it.
 */
type WrapSpec = { [key: string]: string | [string, WrapSpec] | WrapSpec };

const WRAPPED_2014: WrapSpec = {
  ScalingGroups: [
    'ScalingGroup',
    {
      LoadBalancerIds: 'LoadBalancerId',
      DBInstanceIds: 'DBInstanceId',
      DBInstances: ['DBInstance', { SecurityGroupIds: 'SecurityGroupId' }],
      SuspendedProcesses: 'SuspendedProcess',
      VServerGroups: ['VServerGroup', { VServerGroupAttributes: 'VServerGroupAttribute' }],
      AlbServerGroups: 'AlbServerGroup',
      ServerGroups: 'ServerGroup',
      LoadBalancerConfigs: 'LoadBalancerConfig',
      LaunchTemplateOverrides: 'LaunchTemplateOverride',
      VSwitchIds: 'VSwitchId',
      RemovalPolicies: 'RemovalPolicy',
      HealthCheckTypes: 'HealthCheckType',
      Tags: 'Tag',
    },
  ],
  ScalingInstances: 'ScalingInstance',
  ScalingActivities: [
    'ScalingActivity',
    {
      CreatedInstances: 'CreatedInstance',
      DestroyedInstances: 'DestroyedInstance',
      StartedInstances: 'StartedInstance',
      StoppedInstances: 'StoppedInstance',
      ErrorMessages: ['ErrorMessage', { FailedInstanceIds: 'FailedInstanceId' }],
      LifecycleHookContext: { IgnoredLifecycleHookIds: 'IgnoredLifecycleHookId' },
    },
  ],
  IgnoredInstances: 'IgnoredInstance',
};

/** An answer built in the 2022-02-22 shape, in the shape of `version`. */
export function answerIn(version: EssVersion, body: Record<string, unknown>): Record<string, unknown> {
  return version === '2014-08-28' ? wrap(body, WRAPPED_2014) : body;
}

function wrap(value: Record<string, unknown>, spec: WrapSpec): Record<string, unknown> {
  const out: Record<string, unknown> = { ...value };
  for (const [key, rule] of Object.entries(spec)) {
    const field = value[key];
    if (field === undefined || field === null) continue;
    if (typeof rule === 'string') out[key] = { [rule]: field };
    else if (Array.isArray(rule)) {
      const [element, inner] = rule;
      out[key] = { [element]: (field as Record<string, unknown>[]).map((item) => wrap(item, inner)) };
    } else out[key] = wrap(field as Record<string, unknown>, rule);
  }
  return out;
}
