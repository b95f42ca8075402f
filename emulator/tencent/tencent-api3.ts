import { randomUUID, timingSafeEqual } from 'node:crypto';
import { parseTc3Authorization, signTc3 } from '../../shared/providers/tencent/tc3-signer.ts';
import type { TencentActivity, TencentState } from './tencent-state.ts';

export interface Api3Request {
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

export interface Api3Answer {
  status: number;
  body: { Response: Record<string, unknown> };
}

class Api3Error extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

const SKEW_SECONDS = 300;
/** docs/reference/tencent-as.md §B1: the detach-type actions allow 20 requests a second. */
const RATE_LIMITED_ACTIONS = new Set(['DetachInstances', 'RemoveInstances']);
const RATE_LIMIT_PER_SECOND = 20;
const err = (code: string, message: string) => new Api3Error(code, message);
const header = (headers: Api3Request['headers'], name: string) => {
  const value = headers[name];
  return Array.isArray(value) ? value[0] : value;
};

/** Tencent Cloud AS API 3.0 (2018-04-19): TC3 check, `Response` / `Response.Error` JSON, activities. */
export class TencentApi3 {
  readonly #recent = new Map<string, number[]>();

  constructor(
    private readonly state: TencentState,
    private readonly secrets: () => Map<string, string>,
    private readonly now: () => number = Date.now,
  ) {}

  handle(request: Api3Request): Api3Answer {
    const requestId = randomUUID();
    try {
      this.authenticate(request);
      const payload = JSON.parse(request.body || '{}') as Record<string, unknown>;
      const action = header(request.headers, 'x-tc-action') as string;
      const region = header(request.headers, 'x-tc-region') ?? '';
      if (RATE_LIMITED_ACTIONS.has(action))
        this.limitRate(
          action,
          parseTc3Authorization(header(request.headers, 'authorization') ?? '')?.secretId ?? '',
        );
      return {
        status: 200,
        body: { Response: { ...this.act(action, region, payload), RequestId: requestId } },
      };
    } catch (error) {
      if (error instanceof SyntaxError) {
        return {
          status: 200,
          body: {
            Response: {
              Error: { Code: 'InvalidParameter', Message: 'The body is not JSON.' },
              RequestId: requestId,
            },
          },
        };
      }
      if (!(error instanceof Api3Error)) throw error;
      // API 3.0 answers errors with HTTP 200 and Response.Error.
      return {
        status: 200,
        body: { Response: { Error: { Code: error.code, Message: error.message }, RequestId: requestId } },
      };
    }
  }

  private limitRate(action: string, secretId: string): void {
    const key = `${secretId}:${action}`;
    const now = this.now();
    const recent = (this.#recent.get(key) ?? []).filter((at) => at > now - 1000);
    if (recent.length >= RATE_LIMIT_PER_SECOND) {
      this.#recent.set(key, recent);
      throw err('RequestLimitExceeded', `${action} allows ${RATE_LIMIT_PER_SECOND} requests a second.`);
    }
    recent.push(now);
    this.#recent.set(key, recent);
  }

  private authenticate({ headers, body }: Api3Request): void {
    const authorization = parseTc3Authorization(header(headers, 'authorization') ?? '');
    if (!authorization)
      throw err(
        'AuthFailure.SignatureFailure',
        'The Authorization header is not a TC3-HMAC-SHA256 signature.',
      );
    const secretKey = this.secrets().get(authorization.secretId);
    if (!secretKey) throw err('AuthFailure.SecretIdNotFound', 'The SecretId is not found.');
    const timestamp = Number(header(headers, 'x-tc-timestamp'));
    if (!Number.isInteger(timestamp) || Math.abs(this.now() / 1000 - timestamp) > SKEW_SECONDS) {
      throw err(
        'AuthFailure.SignatureExpire',
        'The signature expired: the timestamp is more than 5 minutes off.',
      );
    }
    if (header(headers, 'x-tc-version') !== '2018-04-19')
      throw err('InvalidParameter', 'X-TC-Version must be 2018-04-19.');
    // The SDK signs the host without the port and takes the service from the endpoint (docs/reference/tencent-as.md §B8).
    const host = header(headers, 'host') ?? '';
    const hosts = [host, host.replace(/:\d+$/, '')];
    const given = Buffer.from(authorization.signature);
    const matches = hosts.some((candidate) => {
      const signedHeaders = Object.fromEntries(
        authorization.signedHeaders.map((name) => [
          name,
          name === 'host' ? candidate : (header(headers, name) ?? ''),
        ]),
      );
      const expected = signTc3({
        method: 'POST',
        headers: signedHeaders,
        body,
        timestamp,
        service: authorization.service,
        secretId: authorization.secretId,
        secretKey,
      });
      const bytes = Buffer.from(expected.signature);
      return bytes.length === given.length && timingSafeEqual(bytes, given);
    });
    if (!matches) throw err('AuthFailure.SignatureFailure', 'The signature does not match.');
  }

  private act(action: string, region: string, payload: Record<string, unknown>): Record<string, unknown> {
    switch (action) {
      case 'DetachInstances':
        return this.detachOrRemove('DETACH_INSTANCES', region, payload);
      case 'RemoveInstances':
        return this.detachOrRemove('REMOVE_INSTANCES', region, payload);
      case 'DescribeAutoScalingActivities':
        return this.describeActivities(region, payload);
      case 'DescribeAutoScalingGroups':
        return this.describeGroups(region, payload);
      case 'DescribeAutoScalingInstances':
        return this.describeInstances(region, payload);
      default:
        throw err('InvalidParameter.ActionNotFound', `The action ${action} is not found.`);
    }
  }

  private detachOrRemove(
    type: TencentActivity['type'],
    region: string,
    payload: Record<string, unknown>,
  ): Record<string, unknown> {
    const groupId = payload.AutoScalingGroupId;
    const instanceIds = payload.InstanceIds;
    if (typeof groupId !== 'string' || !/^asg-[A-Za-z0-9]+$/.test(groupId)) {
      throw err('InvalidParameterValue.InvalidAutoScalingGroupId', 'The AutoScalingGroupId is not valid.');
    }
    if (
      !Array.isArray(instanceIds) ||
      instanceIds.length === 0 ||
      !instanceIds.every((id) => typeof id === 'string' && /^ins-/.test(id))
    ) {
      throw err('InvalidParameterValue.InvalidInstanceId', 'The InstanceIds are not valid.');
    }
    if (instanceIds.length > 100)
      throw err('InvalidParameterValue.LimitExceeded', 'At most 100 InstanceIds.');
    const group = this.state.groups.get(groupId);
    if (!group || group.region !== region)
      throw err(
        'ResourceNotFound.AutoScalingGroupNotFound',
        `The auto scaling group ${groupId} is not found.`,
      );
    const now = this.now();
    if (this.state.inActivity(groupId, now)) {
      throw err(
        'ResourceUnavailable.AutoScalingGroupInActivity',
        'The auto scaling group is in a scaling activity.',
      );
    }
    const members = this.state.membersOf(groupId);
    const outside = (instanceIds as string[]).filter((id) => !members.some((m) => m.instanceId === id));
    if (outside.length > 0) {
      throw err(
        'ResourceNotFound.InstancesNotInAutoScalingGroup',
        `Instances ${outside.join(', ')} are not in the auto scaling group.`,
      );
    }
    // Below MinSize is checked only for an enabled group (docs/reference/tencent-as.md §B1).
    const inService = members.filter((m) => m.lifeCycleState === 'IN_SERVICE').length;
    if (group.enabled && inService - instanceIds.length < group.minSize) {
      throw err(
        'ResourceInsufficient.InServiceInstanceBelowMinSize',
        'The IN_SERVICE instances would fall below MinSize.',
      );
    }
    const activity = this.state.start(group, type, instanceIds as string[], type === 'REMOVE_INSTANCES', now);
    return { ActivityId: activity.id };
  }

  private describeActivities(region: string, payload: Record<string, unknown>): Record<string, unknown> {
    const ids = payload.ActivityIds as string[] | undefined;
    const filters = (payload.Filters as { Name: string; Values: string[] }[] | undefined) ?? [];
    if (ids && filters.length > 0)
      throw err('InvalidParameter.Conflict', 'ActivityIds and Filters cannot be combined.');
    if (ids && ids.length > 100) throw err('InvalidParameterValue.LimitExceeded', 'At most 100 ActivityIds.');
    const since = typeof payload.StartTime === 'string' && !ids ? Date.parse(payload.StartTime) : undefined;
    const groupFilter = filters.find((f) => f.Name === 'auto-scaling-group-id')?.Values;
    const now = this.now();
    this.state.settle(now);
    const activities = [...this.state.activities.values()].filter(
      (a) =>
        a.region === region &&
        (!ids || ids.includes(a.id)) &&
        (!groupFilter || groupFilter.includes(a.groupId)) &&
        (since === undefined || a.startedAt >= since - 1000),
    );
    const limit = Math.min(100, Number(payload.Limit ?? 20));
    return {
      TotalCount: activities.length,
      ActivitySet: activities.slice(0, limit).map((a) => {
        const status = this.state.statusOf(a, now);
        const succeeded = a.settled ? new Set(this.state.succeededOf(a)) : new Set<string>();
        const related = a.instanceIds.map((id) => ({
          InstanceId: id,
          InstanceStatus: !a.settled ? 'RUNNING' : succeeded.has(id) ? 'SUCCESSFUL' : 'FAILED',
        }));
        return {
          AutoScalingGroupId: a.groupId,
          ActivityId: a.id,
          ActivityType: a.type,
          StatusCode: status,
          StatusMessage:
            status === 'SUCCESSFUL'
              ? 'Success'
              : status === 'PARTIALLY_SUCCESSFUL'
                ? 'Some instances failed.'
                : status,
          StartTime: new Date(a.startedAt).toISOString().replace(/\.\d+Z$/, 'Z'),
          ...(a.settled && { EndTime: new Date(a.endsAt).toISOString().replace(/\.\d+Z$/, 'Z') }),
          ActivityRelatedInstanceSet: related,
          RelatedInstanceSet: related,
        };
      }),
    };
  }

  private describeGroups(region: string, payload: Record<string, unknown>): Record<string, unknown> {
    const ids = payload.AutoScalingGroupIds as string[] | undefined;
    const now = this.now();
    const groups = [...this.state.groups.values()].filter(
      (g) => g.region === region && (!ids || ids.includes(g.autoScalingGroupId)),
    );
    return {
      TotalCount: groups.length,
      AutoScalingGroupSet: groups.map((g) => {
        const members = this.state.membersOf(g.autoScalingGroupId);
        return {
          AutoScalingGroupId: g.autoScalingGroupId,
          MinSize: g.minSize,
          MaxSize: g.maxSize,
          InstanceCount: members.length,
          InServiceInstanceCount: members.filter((m) => m.lifeCycleState === 'IN_SERVICE').length,
          EnabledStatus: g.enabled ? 'ENABLED' : 'DISABLED',
          InActivityStatus: this.state.inActivity(g.autoScalingGroupId, now)
            ? 'IN_ACTIVITY'
            : 'NOT_IN_ACTIVITY',
          AutoScalingGroupStatus: 'NORMAL',
        };
      }),
    };
  }

  private describeInstances(region: string, payload: Record<string, unknown>): Record<string, unknown> {
    const ids = payload.InstanceIds as string[] | undefined;
    this.state.settle(this.now());
    const instances = [...this.state.instances.values()].filter((i) => {
      const group = i.autoScalingGroupId ? this.state.groups.get(i.autoScalingGroupId) : undefined;
      return group?.region === region && (!ids || ids.includes(i.instanceId));
    });
    return {
      TotalCount: instances.length,
      AutoScalingInstanceSet: instances.map((i) => ({
        InstanceId: i.instanceId,
        AutoScalingGroupId: i.autoScalingGroupId,
        LifeCycleState: i.lifeCycleState,
        CreationType: i.creationType,
        HealthStatus: 'HEALTHY',
      })),
    };
  }
}
