import type { z } from 'zod';
import type {
  ActionRequest,
  TencentDetachInstancesRequest,
  TencentRemoveInstancesRequest,
} from '../../contracts/index.ts';
import { instanceStateAccepted } from '../../contracts/instance-states.ts';
import { chunk } from '../../detach/collections.ts';
import type { ActivityReport, ScalingProvider, SubmitAttempt, SubmitResult } from '../../detach/ports.ts';
import { type GroupSnapshot, MISSING_GROUP } from '../../detach/preflight.ts';
import { DetachError, recoveryRead } from '../../errors.ts';
import type { TencentActivity, TencentAsClient } from './as-client.ts';
import type { TencentV2Client } from './v2-client.ts';

const PHASE_OF_STATUS: Record<string, ActivityReport['phase']> = {
  INIT: 'pending',
  RUNNING: 'pending',
  SUCCESSFUL: 'succeeded',
  PARTIALLY_SUCCESSFUL: 'partial',
  FAILED: 'failed',
  CANCELLED: 'failed',
};

export const tencentActivityReport = (activity: TencentActivity): ActivityReport => ({
  activityId: activity.ActivityId,
  phase: PHASE_OF_STATUS[activity.StatusCode] ?? 'pending',
  statusCode: activity.StatusCode,
  ...(activity.StatusMessage && { statusMessage: activity.StatusMessage }),
});

/**
 * How far our clock and the cloud's may disagree when looking for the activity an unanswered call started. An
 * activity that call started began after the intent was written and cannot have ended before it; the match also
 * needs the activity type, every instance, and that no other request of ours owns the activity (an activity this
 * service followed for another request, on instances that came back, is not ours to adopt).
 */
const CLOCK_SKEW_ALLOWANCE_MS = 30_000;

const startedAt = (activity: TencentActivity) =>
  activity.StartTime ? Date.parse(activity.StartTime) : Number.POSITIVE_INFINITY;
/** When the activity ended (the cloud's clock); +Infinity while it runs or when the cloud does not say. */
const endedAt = (activity: TencentActivity) => {
  const end = activity.EndTime ? Date.parse(activity.EndTime) : Number.NaN;
  return Number.isNaN(end) ? Number.POSITIVE_INFINITY : end;
};

const isV2 = (operation: ActionRequest) =>
  'apiVersion' in operation.request && operation.request.apiVersion === 'v2';

const relatedInstances = (activity: TencentActivity) =>
  activity.RelatedInstanceSet ?? activity.ActivityRelatedInstanceSet ?? [];

type TencentOperation =
  | { action: 'detach-instances'; request: z.infer<typeof TencentDetachInstancesRequest> }
  | { action: 'remove-instances'; request: z.infer<typeof TencentRemoveInstancesRequest> };

/** The ScalingProvider port over Tencent Cloud AS: API 3.0, and the legacy v2 DetachInstance. */
export class TencentProvider implements ScalingProvider {
  readonly activityBatchLimit = 100;

  constructor(
    private readonly api: TencentAsClient,
    private readonly v2: TencentV2Client,
  ) {}

  /** Neither API 3.0 nor v2 takes an idempotency token. */
  idempotentByToken(): boolean {
    return false;
  }

  async submit(operation: ActionRequest, attempt: SubmitAttempt): Promise<SubmitResult> {
    if (operation.request.provider !== 'tencent') {
      throw new DetachError('UnsupportedProvider', 'not a Tencent Cloud request', 'fatal');
    }
    if (operation.action !== 'detach-instances' && operation.action !== 'remove-instances') {
      throw new DetachError('UnsupportedAction', `Tencent Cloud AS has no ${operation.action}`, 'fatal');
    }
    const tencent = operation as TencentOperation;
    const { request } = tencent;
    if (tencent.action === 'detach-instances' && tencent.request.apiVersion === 'v2') {
      // v2 has no idempotency token: after an ambiguous attempt, instances already gone mean it acted.
      if (attempt.ambiguousSince) {
        const remaining = await recoveryRead(() =>
          this.v2InstancesInGroup(request.region, request.scalingGroupId, request.instanceIds),
        );
        if (remaining.length === 0) return {};
      }
      await this.v2.detachInstance(
        request.region,
        request.scalingGroupId,
        request.instanceIds,
        tencent.request.keepInstance,
      );
      return {};
    }
    // API 3.0 takes no idempotency token either: after an ambiguous attempt, adopt the activity it started.
    if (attempt.ambiguousSince) {
      const since = attempt.ambiguousSince;
      const earlier = await recoveryRead(() => this.findActivity(tencent, since, attempt.claimedElsewhere));
      if (earlier) return { activityId: earlier };
    }
    const activityId =
      tencent.action === 'detach-instances'
        ? await this.api.detachInstances(request.region, request.scalingGroupId, request.instanceIds)
        : await this.api.removeInstances(request.region, request.scalingGroupId, request.instanceIds);
    return { activityId };
  }

  async findStartedActivity(
    operation: ActionRequest,
    since: Date,
    claimedElsewhere: (activityId: string) => Promise<boolean>,
  ): Promise<string | undefined> {
    if (operation.action !== 'detach-instances' && operation.action !== 'remove-instances') return undefined;
    if (isV2(operation)) return undefined;
    return this.findActivity(operation as TencentOperation, since, claimedElsewhere);
  }

  private async findActivity(
    operation: TencentOperation,
    since: Date,
    claimedElsewhere: SubmitAttempt['claimedElsewhere'],
  ): Promise<string | undefined> {
    const { request } = operation;
    const type = operation.action === 'detach-instances' ? 'DETACH_INSTANCES' : 'REMOVE_INSTANCES';
    // `since` is our clock, the activity's start time the cloud's: the window is widened by the skew we allow.
    const from = since.getTime() - CLOCK_SKEW_ALLOWANCE_MS;
    const activities = await this.api.describeGroupActivities(
      request.region,
      request.scalingGroupId,
      new Date(from),
    );
    const candidates = activities
      .filter(
        (activity) =>
          activity.ActivityType === type &&
          startedAt(activity) >= from &&
          endedAt(activity) >= from &&
          request.instanceIds.every((id) =>
            relatedInstances(activity).some((related) => related.InstanceId === id),
          ),
      )
      .sort((a, b) => startedAt(a) - startedAt(b));
    for (const activity of candidates) {
      if (!(await claimedElsewhere?.(activity.ActivityId))) return activity.ActivityId;
    }
    return undefined;
  }

  async describeActivities(region: string, activityIds: readonly string[]): Promise<ActivityReport[]> {
    return (await this.api.describeActivities(region, activityIds)).map(tencentActivityReport);
  }

  /**
   * Whether each request's instances are gone from its group, read through the API the request uses (v2
   * credentials may allow no API 3.0 call, and the other way round). A group API 3.0 does not list confirms
   * nothing.
   */
  async reconcile(region: string, operations: readonly ActionRequest[]): Promise<Map<string, boolean>> {
    // One read per request: a read that fails leaves only that request unknown (absent), not its whole region.
    const done = new Map<string, boolean>();
    let failure: unknown;
    for (const operation of operations) {
      try {
        const gone = await this.isGone(region, operation);
        if (gone !== undefined) done.set(operation.request.requestId, gone);
      } catch (error) {
        failure ??= error;
      }
    }
    if (done.size === 0 && failure !== undefined) throw failure;
    return done;
  }

  private async isGone(region: string, operation: ActionRequest): Promise<boolean | undefined> {
    const { request } = operation;
    if (!('instanceIds' in request)) return undefined;
    if (!isV2(operation) && !(await this.api.describeGroup(region, request.scalingGroupId))) return false;
    return (await this.remainingInstances(operation, request.instanceIds)).length === 0;
  }

  /** API 3.0 only: v2 users may have no API 3.0 access, so their requests go without a preflight. */
  async inspect(operation: ActionRequest): Promise<GroupSnapshot | undefined> {
    const { request } = operation;
    if (request.provider !== 'tencent' || !('instanceIds' in request)) return undefined;
    if ('apiVersion' in request && request.apiVersion === 'v2') return undefined;
    const group = await this.api.describeGroup(request.region, request.scalingGroupId);
    if (!group) return MISSING_GROUP;
    const present = (await this.members(request.region, request.scalingGroupId, request.instanceIds)).map(
      (i) => ({
        instanceId: i.InstanceId,
        state: i.LifeCycleState,
        acceptable: instanceStateAccepted('tencent', i.LifeCycleState),
      }),
    );
    const enabled = group.EnabledStatus === 'ENABLED';
    // API 3.0 detaches from a disabled group too, and then skips the MinSize check (docs/reference/tencent-as.md §B1).
    return {
      exists: true,
      active: true,
      state: group.EnabledStatus,
      minSize: group.MinSize,
      capacity: group.InServiceInstanceCount,
      checkMinSize: enabled,
      activityInProgress: group.InActivityStatus === 'IN_ACTIVITY',
      present,
    };
  }

  async remainingInstances(operation: ActionRequest, instanceIds: readonly string[]): Promise<string[]> {
    const { region, scalingGroupId } = operation.request;
    if (isV2(operation)) return this.v2InstancesInGroup(region, scalingGroupId, instanceIds);
    return (await this.members(region, scalingGroupId, instanceIds)).map((i) => i.InstanceId);
  }

  /** Of these instances, the ones in the group (API 3.0, 100 a DescribeAutoScalingInstances call). */
  private async members(region: string, scalingGroupId: string, instanceIds: readonly string[]) {
    const found = [];
    for (const ids of chunk(instanceIds, 100)) {
      found.push(
        ...(await this.api.describeInstances(region, ids)).filter(
          (i) => i.AutoScalingGroupId === scalingGroupId,
        ),
      );
    }
    return found;
  }

  private async v2InstancesInGroup(
    region: string,
    scalingGroupId: string,
    instanceIds: readonly string[],
  ): Promise<string[]> {
    const remaining: string[] = [];
    for (const ids of chunk(instanceIds, 20))
      remaining.push(...(await this.v2.instancesInGroup(region, scalingGroupId, ids)));
    return remaining;
  }
}
