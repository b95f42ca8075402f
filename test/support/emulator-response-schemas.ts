/**
 * The Describe responses as the public API references document them, field by field with their types:
 * ESS 2014-08-28 (DescribeScalingActivities / Groups / Instances reference pages, as the generated
 * aliyun/alibaba-cloud-sdk-go services/ess ScalingActivity, ScalingGroup and ScalingInstance structs type them:
 * TotalCapacity, AttachedCapacity and AutoCreatedCapacity are strings, the other counts integers), Tencent AS 2018-04-19 (the Activity,
 * AutoScalingGroup and Instance data structures of the API 3.0 reference, as tencentcloud-sdk-nodejs types them)
 * and the legacy v2 DescribeScalingActivity / DescribeScalingInstance pages. Every documented field the emulator
 * can know is required, so a field it drops fails the test.
 */
import { z } from 'zod';

const minute = z.string().regex(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}Z$/);
const second = z.string().regex(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/);
const int = z.number().int();
const count = z.number().int().nonnegative();
const numericString = z.string().regex(/^\d+$/);
/** ESS wraps each list in an object: `{"ScalingGroups":{"ScalingGroup":[...]}}`. */
const list = <K extends string, T extends z.ZodType>(key: K, item: T) =>
  z.object({ [key]: z.array(item) } as unknown as { [P in K]: z.ZodArray<T> });

export const EssActivity = z.object({
  ScalingActivityId: z.string(),
  ScalingGroupId: z.string(),
  StatusCode: z.enum(['Successful', 'Warning', 'Failed', 'InProgress', 'Rejected']),
  StatusMessage: z.string(),
  Progress: int.min(0).max(100),
  StartTime: minute,
  EndTime: minute.optional(),
  Cause: z.string(),
  Description: z.string(),
  Detail: z.string(),
  TotalCapacity: numericString,
  AttachedCapacity: numericString,
  AutoCreatedCapacity: numericString,
  ScalingInstanceNumber: count,
  CreatedCapacity: count,
  DestroyedCapacity: count,
  StartedCapacity: count,
  StoppedCapacity: count,
  CreatedInstances: list('CreatedInstance', z.string()),
  DestroyedInstances: list('DestroyedInstance', z.string()),
  StartedInstances: list('StartedInstance', z.string()),
  StoppedInstances: list('StoppedInstance', z.string()),
  ErrorCode: z.string(),
  ErrorMessage: z.string(),
  TriggerSourceType: z.string(),
  TriggerSourceId: z.string(),
  ActivityMetadata: z.string(),
});

export const EssActivitiesResponse = z.object({
  RequestId: z.string(),
  TotalCount: count,
  PageNumber: int,
  PageSize: int,
  ScalingActivities: list('ScalingActivity', EssActivity),
});

export const EssGroup = z.object({
  ScalingGroupId: z.string(),
  ScalingGroupName: z.string(),
  RegionId: z.string(),
  LifecycleState: z.enum(['Active', 'Inactive', 'Deleting']),
  MinSize: count,
  MaxSize: count,
  DesiredCapacity: count,
  TotalCapacity: count,
  TotalInstanceCount: count,
  ActiveCapacity: count,
  PendingCapacity: count,
  PendingWaitCapacity: count,
  RemovingCapacity: count,
  RemovingWaitCapacity: count,
  ProtectedCapacity: count,
  StandbyCapacity: count,
  StoppedCapacity: count,
  ActiveScalingConfigurationId: z.string(),
  ScalingPolicy: z.enum(['recycle', 'release', 'forcerelease']),
  GroupType: z.enum(['ECS', 'ECI']),
  DefaultCooldown: count,
  SystemSuspended: z.boolean(),
  SuspendedProcesses: list('SuspendedProcess', z.string()),
  LoadBalancerIds: list('LoadBalancerId', z.string()),
  DBInstanceIds: list('DBInstanceId', z.string()),
  VServerGroups: list(
    'VServerGroup',
    z.object({
      LoadBalancerId: z.string(),
      VServerGroupAttributes: list(
        'VServerGroupAttribute',
        z.object({ VServerGroupId: z.string(), Port: int, Weight: int }),
      ),
    }),
  ),
  AlbServerGroups: list('AlbServerGroup', z.object({ AlbServerGroupId: z.string(), Port: int, Weight: int })),
  CreationTime: minute,
});

export const EssGroupsResponse = z.object({
  RequestId: z.string(),
  TotalCount: count,
  PageNumber: int,
  PageSize: int,
  ScalingGroups: list('ScalingGroup', EssGroup),
});

export const EssInstance = z.object({
  InstanceId: z.string(),
  ScalingGroupId: z.string(),
  LifecycleState: z.enum([
    'InService',
    'Pending',
    'Pending:Wait',
    'Protected',
    'Standby',
    'Stopped',
    'Removing',
    'Removing:Wait',
  ]),
  HealthStatus: z.enum(['Healthy', 'Unhealthy']),
  CreationType: z.enum(['AutoCreated', 'Attached', 'Managed']),
  Entrusted: z.boolean(),
  ScalingConfigurationId: z.string(),
  ScalingActivityId: z.string(),
  ZoneId: z.string(),
  WeightedCapacity: int.positive(),
  CreationTime: minute,
  CreatedTime: second,
});

export const EssInstancesResponse = z.object({
  RequestId: z.string(),
  TotalCount: count,
  PageNumber: int,
  PageSize: int,
  ScalingInstances: list('ScalingInstance', EssInstance),
});

const TencentRelatedInstance = z.object({
  InstanceId: z.string(),
  InstanceStatus: z.enum(['INIT', 'RUNNING', 'SUCCESSFUL', 'FAILED']),
});

export const TencentActivity = z.object({
  AutoScalingGroupId: z.string(),
  ActivityId: z.string(),
  ActivityType: z.enum([
    'SCALE_OUT',
    'SCALE_IN',
    'ATTACH_INSTANCES',
    'REMOVE_INSTANCES',
    'DETACH_INSTANCES',
    'TERMINATE_INSTANCES_UNEXPECTEDLY',
    'REPLACE_UNHEALTHY_INSTANCE',
    'START_INSTANCES',
    'STOP_INSTANCES',
    'INVOKE_COMMAND',
  ]),
  StatusCode: z.enum(['INIT', 'RUNNING', 'SUCCESSFUL', 'PARTIALLY_SUCCESSFUL', 'FAILED', 'CANCELLED']),
  StatusMessage: z.string(),
  StatusMessageSimplified: z.string(),
  Cause: z.string(),
  Description: z.string(),
  StartTime: second,
  EndTime: second.optional(),
  CreatedTime: second,
  ActivityRelatedInstanceSet: z.array(TencentRelatedInstance),
  RelatedInstanceSet: z.array(TencentRelatedInstance),
  LifecycleActionResultSet: z.array(z.object({ InstanceId: z.string() }).loose()),
  DetailedStatusMessageSet: z.array(z.object({ Code: z.string(), InstanceId: z.string() }).loose()),
  InvocationResultSet: z.array(z.object({ InstanceId: z.string() }).loose()),
});

export const TencentActivitiesResponse = z.object({
  TotalCount: count,
  ActivitySet: z.array(TencentActivity),
  RequestId: z.string(),
});

export const TencentGroup = z.object({
  AutoScalingGroupId: z.string(),
  AutoScalingGroupName: z.string(),
  AutoScalingGroupStatus: z.enum([
    'NORMAL',
    'CVM_ABNORMAL',
    'LB_ABNORMAL',
    'LB_LISTENER_ABNORMAL',
    'LB_LOCATION_ABNORMAL',
    'VPC_ABNORMAL',
    'SUBNET_ABNORMAL',
    'INSUFFICIENT_BALANCE',
    'LB_BACKEND_REGION_NOT_MATCH',
    'LB_BACKEND_VPC_NOT_MATCH',
  ]),
  CreatedTime: second,
  DefaultCooldown: count,
  DesiredCapacity: count,
  EnabledStatus: z.enum(['ENABLED', 'DISABLED']),
  ForwardLoadBalancerSet: z.array(z.unknown()),
  InstanceCount: count,
  InServiceInstanceCount: count,
  LaunchConfigurationId: z.string(),
  LaunchConfigurationName: z.string(),
  LoadBalancerIdSet: z.array(z.string()),
  MaxSize: count,
  MinSize: count,
  ProjectId: int,
  SubnetIdSet: z.array(z.string()),
  TerminationPolicySet: z.array(z.string()),
  VpcId: z.string(),
  ZoneSet: z.array(z.string()),
  RetryPolicy: z.string(),
  InActivityStatus: z.enum(['IN_ACTIVITY', 'NOT_IN_ACTIVITY']),
  Tags: z.array(z.object({ Key: z.string(), Value: z.string() })),
  MultiZoneSubnetPolicy: z.string(),
  HealthCheckType: z.string(),
  LoadBalancerHealthCheckGracePeriod: count,
  InstanceAllocationPolicy: z.string(),
  CapacityRebalance: z.boolean(),
});

export const TencentGroupsResponse = z.object({
  TotalCount: count,
  AutoScalingGroupSet: z.array(TencentGroup),
  RequestId: z.string(),
});

export const TencentInstance = z.object({
  InstanceId: z.string(),
  AutoScalingGroupId: z.string(),
  AutoScalingGroupName: z.string(),
  LaunchConfigurationId: z.string(),
  LaunchConfigurationName: z.string(),
  LifeCycleState: z.string(),
  HealthStatus: z.enum(['HEALTHY', 'UNHEALTHY']),
  ProtectedFromScaleIn: z.boolean(),
  Zone: z.string(),
  CreationType: z.enum(['AUTO_CREATION', 'MANUAL_ATTACHING']),
  AddTime: second,
  InstanceType: z.string(),
  VersionNumber: int,
  WarmupStatus: z.string(),
  DisasterRecoverGroupIds: z.array(z.string()),
});

export const TencentInstancesResponse = z.object({
  TotalCount: count,
  AutoScalingInstanceSet: z.array(TencentInstance),
  RequestId: z.string(),
});

const v2Time = z.string().regex(/^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$/);
const v2Envelope = <T extends z.ZodType>(data: T) =>
  z.object({ code: z.literal(0), message: z.string(), codeDesc: z.string(), data });

export const V2ActivitiesResponse = v2Envelope(
  z.object({
    totalCount: count,
    scalingActivitySet: z.array(
      z.object({
        autoScalingGroupId: z.string(),
        scalingActivityId: z.string(),
        type: z.number().int().min(0),
        status: z.number().int().min(0).max(5),
        errorCode: int,
        cause: z.string(),
        desciption: z.string(),
        msg: z.string(),
        succInsList: z.array(z.string()),
        failInsList: z.array(z.string()),
        startTime: v2Time,
        endTime: v2Time.or(z.literal('')),
      }),
    ),
  }),
);

export const V2InstancesResponse = v2Envelope(
  z.object({
    totalCount: count,
    scalingInstancesSet: z.array(
      z.object({
        instanceId: z.string(),
        healthStatus: z.string(),
        creationType: z.enum(['Auto', 'Manual']),
        lifeCycleState: z.string(),
        protectedFromScaleIn: z.number().int().min(0).max(1),
        addTime: v2Time,
      }),
    ),
  }),
);
