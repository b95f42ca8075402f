import type { ActionRequest } from '../../contracts/index.ts';
import { instanceStateAccepted } from '../../contracts/instance-states.ts';
import { chunk } from '../../detach/collections.ts';
import type { ActivityReport, ScalingProvider, SubmitAttempt, SubmitResult } from '../../detach/ports.ts';
import { type GroupSnapshot, MISSING_GROUP } from '../../detach/preflight.ts';
import { DetachError, recoveryRead } from '../../errors.ts';
import type { EssActivity, EssClient, EssScalingGroup } from './ess-client.ts';

const PHASE_OF_STATUS: Record<string, ActivityReport['phase']> = {
  InProgress: 'pending',
  Successful: 'succeeded',
  Warning: 'partial',
  Failed: 'failed',
  Rejected: 'failed',
};

export const activityReportOf = (activity: EssActivity): ActivityReport => ({
  activityId: activity.ScalingActivityId,
  // A status word we do not know yet is not an end: keep polling until the timeout decides.
  phase: PHASE_OF_STATUS[activity.StatusCode] ?? 'pending',
  statusCode: activity.StatusCode,
  ...(activity.StatusMessage && { statusMessage: activity.StatusMessage }),
  ...(activity.Progress !== undefined && !Number.isNaN(activity.Progress) && { progress: activity.Progress }),
  ...(activity.ErrorCode && { errorCode: activity.ErrorCode }),
  ...(activity.ErrorMessage && { errorMessage: activity.ErrorMessage }),
});

/** Whether a group still has any of the server groups the request took out. */
export function stillAttached(operation: ActionRequest, group: EssScalingGroup | undefined): boolean {
  if (!group) return false;
  if (operation.action === 'detach-vserver-groups') {
    const attached = new Set(
      (group.VServerGroups?.VServerGroup ?? []).flatMap((lb) =>
        lb.VServerGroupAttributes.VServerGroupAttribute.map(
          (a) => `${lb.LoadBalancerId}/${a.VServerGroupId}/${a.Port}`,
        ),
      ),
    );
    return operation.request.vServerGroups.some((lb) =>
      lb.vServerGroupAttributes.some((a) =>
        attached.has(`${lb.loadBalancerId}/${a.vServerGroupId}/${a.port}`),
      ),
    );
  }
  if (operation.action === 'detach-alb-server-groups') {
    const attached = new Set(
      (group.AlbServerGroups?.AlbServerGroup ?? []).map((g) => `${g.AlbServerGroupId}/${g.Port}`),
    );
    return operation.request.albServerGroups.some((g) => attached.has(`${g.albServerGroupId}/${g.port}`));
  }
  return false;
}

/** The ScalingProvider port over Alibaba Cloud ESS. */
export class EssProvider implements ScalingProvider {
  readonly activityBatchLimit = 20;

  constructor(private readonly client: EssClient) {}

  /** DetachVServerGroups is the one ESS action without a ClientToken (seed: aliyun-ess-DetachVServerGroups.md). */
  idempotentByToken(action: ActionRequest['action']): boolean {
    return action !== 'detach-vserver-groups';
  }

  /**
   * ESS takes a ClientToken, so an ambiguous earlier attempt needs nothing more: the token makes it the same call.
   * DetachVServerGroups has none: after an ambiguous attempt, vServer groups no longer attached mean it acted.
   */
  async submit(
    operation: ActionRequest,
    { clientToken, ambiguousSince }: SubmitAttempt,
  ): Promise<SubmitResult> {
    if (operation.request.provider !== 'aliyun')
      throw new DetachError('UnsupportedProvider', 'not an Alibaba Cloud request', 'fatal');
    const { request } = operation;
    if (ambiguousSince && operation.action === 'detach-vserver-groups') {
      const [group] = await recoveryRead(() =>
        this.client.describeScalingGroups(request.region, [request.scalingGroupId]),
      );
      if (group && !stillAttached(operation, group)) return {};
    }
    const common = { region: request.region, scalingGroupId: request.scalingGroupId, clientToken };
    let result: { requestId: string; scalingActivityId?: string };
    switch (operation.action) {
      case 'detach-instances':
        result = await this.client.detachInstances({
          ...common,
          instanceIds: operation.request.instanceIds,
          ...definedOnly({
            decreaseDesiredCapacity: operation.request.decreaseDesiredCapacity,
            detachOption: operation.request.detachOption,
            lifecycleHook: operation.request.lifecycleHook,
            ignoreInvalidInstance: operation.request.ignoreInvalidInstance,
          }),
        });
        break;
      case 'remove-instances':
        result = await this.client.removeInstances({
          ...common,
          instanceIds: operation.request.instanceIds,
          removePolicy: operation.request.removePolicy,
          ...definedOnly({
            decreaseDesiredCapacity: operation.request.decreaseDesiredCapacity,
            ignoreInvalidInstance: operation.request.ignoreInvalidInstance,
            stopInstanceTimeout: operation.request.stopInstanceTimeout,
          }),
        });
        break;
      case 'detach-vserver-groups':
        result = await this.client.detachVServerGroups({
          ...common,
          vServerGroups: operation.request.vServerGroups,
          ...definedOnly({ forceDetach: operation.request.forceDetach }),
        });
        break;
      case 'detach-alb-server-groups':
        result = await this.client.detachAlbServerGroups({
          ...common,
          albServerGroups: operation.request.albServerGroups,
          ...definedOnly({ forceDetach: operation.request.forceDetach }),
        });
        break;
    }
    return {
      cloudRequestId: result.requestId,
      ...(result.scalingActivityId && { activityId: result.scalingActivityId }),
    };
  }

  async describeActivities(region: string, activityIds: readonly string[]): Promise<ActivityReport[]> {
    const activities = await this.client.describeScalingActivities(region, activityIds);
    return activities.map(activityReportOf);
  }

  async reconcile(region: string, operations: readonly ActionRequest[]): Promise<Map<string, boolean>> {
    const groupIds = [...new Set(operations.map((operation) => operation.request.scalingGroupId))];
    const groups = new Map<string, EssScalingGroup>();
    for (const ids of chunk(groupIds, 20)) {
      for (const group of await this.client.describeScalingGroups(region, ids))
        groups.set(group.ScalingGroupId, group);
    }
    // A group ESS does not list (it lists only active groups) confirms nothing: the request waits, then times out.
    const done = new Map<string, boolean>();
    for (const operation of operations) {
      const group = groups.get(operation.request.scalingGroupId);
      done.set(operation.request.requestId, group !== undefined && !(await this.holds(operation, group)));
    }
    return done;
  }

  /** Whether the group still holds anything the operation takes out: its instances, or its server groups. */
  private async holds(operation: ActionRequest, group: EssScalingGroup): Promise<boolean> {
    if (!('instanceIds' in operation.request)) return stillAttached(operation, group);
    const { request } = operation;
    return (await this.members(request.region, request.scalingGroupId, request.instanceIds)).length > 0;
  }

  async inspect(operation: ActionRequest): Promise<GroupSnapshot | undefined> {
    const { request } = operation;
    if (!('instanceIds' in request)) return undefined;
    const [group] = await this.client.describeScalingGroups(request.region, [request.scalingGroupId]);
    if (!group) return MISSING_GROUP;
    const present = (await this.members(request.region, request.scalingGroupId, request.instanceIds)).map(
      (i) => ({
        instanceId: i.InstanceId,
        state: i.LifecycleState,
        acceptable: instanceStateAccepted('aliyun', i.LifecycleState),
      }),
    );
    return {
      exists: true,
      activityInProgress: await this.client.hasActivityInProgress(request.region, request.scalingGroupId),
      active: group.LifecycleState === 'Active',
      state: group.LifecycleState,
      minSize: group.MinSize,
      capacity: group.TotalCapacity ?? present.length,
      checkMinSize: true,
      present,
    };
  }

  async remainingInstances(operation: ActionRequest, instanceIds: readonly string[]): Promise<string[]> {
    const { region, scalingGroupId } = operation.request;
    return (await this.members(region, scalingGroupId, instanceIds)).map((instance) => instance.InstanceId);
  }

  /** Of these instances, the ones in the group, 20 a DescribeScalingInstances call. */
  private async members(region: string, scalingGroupId: string, instanceIds: readonly string[]) {
    const found = [];
    for (const ids of chunk(instanceIds, 20)) {
      found.push(...(await this.client.describeScalingInstances(region, scalingGroupId, ids)));
    }
    return found;
  }
}

type DefinedOnly<T> = { [K in keyof T]?: Exclude<T[K], undefined> };

/** Optional parameters the caller set, so that ESS applies its own defaults to the rest. */
function definedOnly<T extends Record<string, unknown>>(values: T): DefinedOnly<T> {
  return Object.fromEntries(
    Object.entries(values).filter(([, value]) => value !== undefined),
  ) as DefinedOnly<T>;
}
