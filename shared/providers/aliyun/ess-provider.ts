import type { DetachInstancesRequest } from '../../contracts/index.ts';
import type { ActivityReport, ScalingProvider, SubmitResult } from '../../detach/ports.ts';
import type { EssActivity, EssClient } from './ess-client.ts';

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

/** The ScalingProvider port over Alibaba Cloud ESS. */
export class EssProvider implements ScalingProvider {
  readonly activityBatchLimit = 20;

  constructor(private readonly client: EssClient) {}

  async detachInstances(request: DetachInstancesRequest, clientToken: string): Promise<SubmitResult> {
    const result = await this.client.detachInstances({
      region: request.region,
      scalingGroupId: request.scalingGroupId,
      instanceIds: request.instanceIds,
      clientToken,
      ...(request.decreaseDesiredCapacity !== undefined && {
        decreaseDesiredCapacity: request.decreaseDesiredCapacity,
      }),
      ...(request.detachOption && { detachOption: request.detachOption }),
      ...(request.lifecycleHook !== undefined && { lifecycleHook: request.lifecycleHook }),
      ...(request.ignoreInvalidInstance !== undefined && {
        ignoreInvalidInstance: request.ignoreInvalidInstance,
      }),
    });
    return {
      cloudRequestId: result.requestId,
      ...(result.scalingActivityId && { activityId: result.scalingActivityId }),
    };
  }

  async describeActivities(region: string, activityIds: readonly string[]): Promise<ActivityReport[]> {
    const activities = await this.client.describeScalingActivities(region, activityIds);
    return activities.map(activityReportOf);
  }
}
