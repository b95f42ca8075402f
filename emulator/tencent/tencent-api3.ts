import { randomUUID } from 'node:crypto';
import { instanceStateAccepted } from '../../shared/contracts/instance-states.ts';
import { NonceWindow } from '../nonce-window.ts';
import type { Permit } from '../policies.ts';
import {
  hostVariants,
  parseTc3Authorization,
  sameSecret,
  tencentTc3Signature,
  tencentV1Signature,
} from '../signatures.ts';
import type { TencentActivity, TencentGroup, TencentInstance, TencentState } from './tencent-state.ts';

export interface Api3Request {
  method: string;
  headers: Record<string, string | string[] | undefined>;
  body: string;
  /** The query string exactly as sent, without `?` (TC3 over GET signs it as is). */
  rawQuery: string;
  /** Query and form parameters, parsed (GET, and the HmacSHA1 / HmacSHA256 signature methods). */
  params: Record<string, string>;
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

const VERSION = '2018-04-19';
const SKEW_SECONDS = 300;
/** docs/reference/tencent-as.md §B1: the detach-type actions allow 20 requests a second. */
const RATE_LIMITED_ACTIONS = new Set(['DetachInstances', 'RemoveInstances']);
const RATE_LIMIT_PER_SECOND = 20;
/** Parameters of the signature v1 form that are not the action's own. */
const V1_COMMON = new Set([
  'Action',
  'Version',
  'Region',
  'Timestamp',
  'Nonce',
  'SecretId',
  'Signature',
  'SignatureMethod',
  'Token',
  'Language',
  'RequestClient',
]);
const err = (code: string, message: string) => new Api3Error(code, message);
const header = (headers: Api3Request['headers'], name: string) => {
  const value = headers[name];
  return Array.isArray(value) ? value[0] : value;
};
const isoSeconds = (ms: number) => new Date(ms).toISOString().replace(/\.\d+Z$/, 'Z');

/** A call as the API sees it once authenticated, whichever way it was signed and sent. */
interface Api3Call {
  action: string;
  region: string;
  secretId: string;
  payload: Record<string, unknown>;
}

/** How a Tencent API 3.0 request is signed: TC3 in the Authorization header, or v1 in the parameters. */
export const isTencentApi3Request = (request: Pick<Api3Request, 'headers' | 'params'>): boolean =>
  request.headers['x-tc-action'] !== undefined ||
  (request.params.SecretId !== undefined && request.params.AccessKeyId === undefined);

/**
 * Tencent Cloud AS API 3.0 (2018-04-19), POST JSON or GET, signed with TC3-HMAC-SHA256 or with the v1
 * HmacSHA1 / HmacSHA256 method (the SDK's `signMethod`). Every answer, errors included, is
 * `{"Response":{...,"RequestId"}}`.
 */
export class TencentApi3 {
  readonly #recent = new Map<string, number[]>();
  /** Signature v1 (Nonce, Timestamp) pairs seen within the clock window; an older one is refused as expired. */
  readonly #nonces = new NonceWindow(SKEW_SECONDS * 1000);

  constructor(
    private readonly state: TencentState,
    private readonly secrets: () => Map<string, string>,
    private readonly now: () => number = Date.now,
    /** The CAM check of the caller's policies (emulator/policies.ts); absent: every signed call is allowed. */
    private readonly permit?: Permit,
  ) {}

  /** The action a request names, before it is authenticated (for faults and the call log). */
  static actionOf(request: Pick<Api3Request, 'headers' | 'params'>): string {
    return header(request.headers, 'x-tc-action') ?? request.params.Action ?? 'Unknown';
  }

  handle(request: Api3Request): Api3Answer {
    const requestId = randomUUID();
    try {
      const call = header(request.headers, 'x-tc-action') ? this.tc3(request) : this.v1(request);
      const groupId = call.payload.AutoScalingGroupId;
      const denied = this.permit?.(call.secretId, `as:${call.action}`, {
        region: call.region,
        groupId: typeof groupId === 'string' ? groupId : undefined,
      });
      if (denied) throw err('AuthFailure.UnauthorizedOperation', denied);
      if (RATE_LIMITED_ACTIONS.has(call.action)) this.limitRate(call.action, call.secretId);
      return {
        status: 200,
        body: { Response: { ...this.act(call.action, call.region, call.payload), RequestId: requestId } },
      };
    } catch (error) {
      if (!(error instanceof Api3Error)) throw error;
      // API 3.0 answers errors with HTTP 200 and Response.Error.
      return tencentError(error.code, error.message, requestId);
    }
  }

  private tc3(request: Api3Request): Api3Call {
    const { headers } = request;
    const authorization = parseTc3Authorization(header(headers, 'authorization') ?? '');
    if (!authorization)
      throw err(
        'AuthFailure.SignatureFailure',
        'The Authorization header is not a TC3-HMAC-SHA256 signature.',
      );
    const secretKey = this.secrets().get(authorization.secretId);
    if (!secretKey) throw err('AuthFailure.SecretIdNotFound', 'The SecretId is not found.');
    const timestamp = Number(header(headers, 'x-tc-timestamp'));
    this.checkClock(timestamp);
    if (header(headers, 'x-tc-version') !== VERSION)
      throw err('InvalidParameter', `X-TC-Version must be ${VERSION}.`);
    const method = request.method.toUpperCase();
    if (method !== 'GET' && method !== 'POST')
      throw err('InvalidParameter', 'Only GET and POST are supported.');
    // The SDK signs the host without the port and takes the service from the endpoint (docs/reference/tencent-as.md §B8).
    const matches = hostVariants(header(headers, 'host') ?? '').some((host) =>
      sameSecret(
        tencentTc3Signature({
          method,
          query: method === 'GET' ? request.rawQuery : '',
          headers: Object.fromEntries(
            authorization.signedHeaders.map((name) => [
              name,
              name === 'host' ? host : (header(headers, name) ?? ''),
            ]),
          ),
          body: method === 'GET' ? '' : request.body,
          timestamp,
          service: authorization.service,
          secretKey,
        }),
        authorization.signature,
      ),
    );
    if (!matches) throw err('AuthFailure.SignatureFailure', 'The signature does not match.');
    return {
      action: header(headers, 'x-tc-action') as string,
      region: header(headers, 'x-tc-region') ?? '',
      secretId: authorization.secretId,
      payload: method === 'GET' ? unflatten(request.params) : parsePayload(request.body),
    };
  }

  /** Signature v1 on the API 3.0 endpoint: METHOD + host + `/?` + the sorted parameters, HmacSHA1 or HmacSHA256. */
  private v1(request: Api3Request): Api3Call {
    const { params } = request;
    for (const name of ['Action', 'Timestamp', 'Nonce', 'SecretId', 'Signature']) {
      if (!params[name]) throw err('MissingParameter', `The parameter ${name} is missing.`);
    }
    const method = params.SignatureMethod ?? 'HmacSHA1';
    if (method !== 'HmacSHA1' && method !== 'HmacSHA256')
      throw err('InvalidParameterValue', 'SignatureMethod must be HmacSHA1 or HmacSHA256.');
    const secretKey = this.secrets().get(params.SecretId as string);
    if (!secretKey) throw err('AuthFailure.SecretIdNotFound', 'The SecretId is not found.');
    this.checkClock(Number(params.Timestamp));
    const host = header(request.headers, 'host') ?? '';
    const matches = hostVariants(host).some((candidate) =>
      sameSecret(
        tencentV1Signature(request.method, candidate, '/', params, secretKey),
        params.Signature as string,
      ),
    );
    if (!matches) throw err('AuthFailure.SignatureFailure', 'The signature does not match.');
    // The v1 signature document gives Nonce, "with Timestamp", to prevent replays; the common error codes have
    // none of their own for it, so a replay is refused as a signature that cannot be accepted. The pair, not
    // the Nonce alone: the SDKs draw it from 1..65535, which repeats within the window at a few calls a second.
    const replayKey = `${params.SecretId}:${params.Timestamp}:${params.Nonce}`;
    if (this.#nonces.has(replayKey, this.now()))
      throw err(
        'AuthFailure.SignatureFailure',
        'The request was replayed: this Nonce was used already with this Timestamp.',
      );
    this.#nonces.add(replayKey, this.now());
    if (params.Version !== VERSION) throw err('InvalidParameter', `Version must be ${VERSION}.`);
    const own = Object.fromEntries(Object.entries(params).filter(([name]) => !V1_COMMON.has(name)));
    return {
      action: params.Action as string,
      region: params.Region ?? '',
      secretId: params.SecretId as string,
      payload: unflatten(own),
    };
  }

  private checkClock(timestamp: number): void {
    if (!Number.isInteger(timestamp) || Math.abs(this.now() / 1000 - timestamp) > SKEW_SECONDS) {
      throw err(
        'AuthFailure.SignatureExpire',
        'The signature expired: the timestamp is more than 5 minutes off.',
      );
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
    const listed = payload.InstanceIds;
    if (typeof groupId !== 'string' || !/^asg-[A-Za-z0-9]+$/.test(groupId)) {
      throw err('InvalidParameterValue.InvalidAutoScalingGroupId', 'The AutoScalingGroupId is not valid.');
    }
    if (
      !Array.isArray(listed) ||
      listed.length === 0 ||
      !listed.every((id) => typeof id === 'string' && /^ins-/.test(id))
    ) {
      throw err('InvalidParameterValue.InvalidInstanceId', 'The InstanceIds are not valid.');
    }
    if (listed.length > 100) throw err('InvalidParameterValue.LimitExceeded', 'At most 100 InstanceIds.');
    // An id named twice is one instance: it counts once against MinSize and is acted on once.
    const instanceIds = [...new Set(listed as string[])];
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
    const members = new Map(this.state.membersOf(groupId).map((m) => [m.instanceId, m]));
    const outside = instanceIds.filter((id) => !members.has(id));
    if (outside.length > 0) {
      throw err(
        'ResourceNotFound.InstancesNotInAutoScalingGroup',
        `Instances ${outside.join(', ')} are not in the auto scaling group.`,
      );
    }
    const busy = instanceIds.filter(
      (id) => !instanceStateAccepted('tencent', (members.get(id) as TencentInstance).lifeCycleState),
    );
    if (busy.length > 0) {
      throw err(
        'ResourceUnavailable.InstanceInOperation',
        `Instances ${busy.join(', ')} are not IN_SERVICE.`,
      );
    }
    // Below MinSize is checked only for an enabled group (docs/reference/tencent-as.md §B1).
    const inService = [...members.values()].filter((m) => m.lifeCycleState === 'IN_SERVICE').length;
    if (group.enabled && inService - instanceIds.length < group.minSize) {
      throw err(
        'ResourceInsufficient.InServiceInstanceBelowMinSize',
        'The IN_SERVICE instances would fall below MinSize.',
      );
    }
    const activity = this.state.start(group, type, instanceIds, type === 'REMOVE_INSTANCES', now);
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
    // Read by id or by group, never by scanning every activity the emulator ever ran.
    const candidates = ids
      ? [...new Set(ids)]
          .flatMap((id) => this.state.activities.get(id) ?? [])
          .sort((a, b) => a.startedAt - b.startedAt)
      : groupFilter
        ? groupFilter.flatMap((groupId) => this.state.activitiesOf(groupId))
        : [...this.state.activities.values()];
    const activities = candidates.filter(
      (a) => a.region === region && (since === undefined || a.startedAt >= since - 1000),
    );
    const { limit, offset } = page(payload);
    return {
      TotalCount: activities.length,
      ActivitySet: activities.slice(offset, offset + limit).map((a) => this.activityView(a, now)),
    };
  }

  private activityView(a: TencentActivity, now: number): Record<string, unknown> {
    const status = this.state.statusOf(a, now);
    const succeeded = a.settled ? new Set(this.state.succeededOf(a)) : new Set<string>();
    const related = a.instanceIds.map((id) => ({
      InstanceId: id,
      InstanceStatus: !a.settled ? 'RUNNING' : succeeded.has(id) ? 'SUCCESSFUL' : 'FAILED',
    }));
    const verb = a.type === 'DETACH_INSTANCES' ? 'detach' : 'remove';
    const message =
      status === 'SUCCESSFUL'
        ? 'Success'
        : status === 'PARTIALLY_SUCCESSFUL'
          ? 'Some instances failed.'
          : status === 'FAILED' || status === 'CANCELLED'
            ? `The activity ended ${status}.`
            : '';
    return {
      AutoScalingGroupId: a.groupId,
      ActivityId: a.id,
      ActivityType: a.type,
      StatusCode: status,
      StatusMessage: message,
      StatusMessageSimplified: message,
      Cause: `A user requested to ${verb} instances.`,
      Description: `${verb === 'detach' ? 'Detach' : 'Remove'} ${a.instanceIds.length} instance(s): ${a.instanceIds.join(', ')}`,
      StartTime: isoSeconds(a.startedAt),
      // The SDK models EndTime on every activity; one still running has none yet, which API 3.0 answers as null.
      EndTime: a.settled ? isoSeconds(a.endsAt) : null,
      CreatedTime: isoSeconds(a.startedAt),
      ActivityRelatedInstanceSet: related,
      RelatedInstanceSet: related,
      LifecycleActionResultSet: [],
      DetailedStatusMessageSet: [],
      InvocationResultSet: [],
    };
  }

  private describeGroups(region: string, payload: Record<string, unknown>): Record<string, unknown> {
    const ids = payload.AutoScalingGroupIds as string[] | undefined;
    const now = this.now();
    const groups = (
      ids ? ids.flatMap((id) => this.state.groups.get(id) ?? []) : [...this.state.groups.values()]
    ).filter((g) => g.region === region);
    const { limit, offset } = page(payload);
    return {
      TotalCount: groups.length,
      AutoScalingGroupSet: groups.slice(offset, offset + limit).map((g) => this.groupView(g, now)),
    };
  }

  private groupView(g: TencentGroup, now: number): Record<string, unknown> {
    const members = this.state.membersOf(g.autoScalingGroupId);
    return {
      AutoScalingGroupId: g.autoScalingGroupId,
      AutoScalingGroupName: g.autoScalingGroupName ?? g.autoScalingGroupId,
      AutoScalingGroupStatus: 'NORMAL',
      CreatedTime: isoSeconds(g.createdAt),
      DefaultCooldown: 300,
      DesiredCapacity: g.desiredCapacity,
      EnabledStatus: g.enabled ? 'ENABLED' : 'DISABLED',
      ForwardLoadBalancerSet: [],
      InstanceCount: members.length,
      InServiceInstanceCount: members.filter((m) => m.lifeCycleState === 'IN_SERVICE').length,
      LaunchConfigurationId: g.launchConfigurationId,
      LaunchConfigurationName: g.launchConfigurationId,
      LoadBalancerIdSet: [],
      MaxSize: g.maxSize,
      MinSize: g.minSize,
      ProjectId: g.projectId,
      SubnetIdSet: g.subnetIds,
      TerminationPolicySet: ['OLDEST_INSTANCE'],
      VpcId: g.vpcId,
      ZoneSet: g.zones,
      RetryPolicy: 'IMMEDIATE_RETRY',
      InActivityStatus: this.state.inActivity(g.autoScalingGroupId, now) ? 'IN_ACTIVITY' : 'NOT_IN_ACTIVITY',
      Tags: g.tags.map((t) => ({ Key: t.key, Value: t.value, ResourceType: 'auto-scaling-group' })),
      ServiceSettings: {
        ReplaceMonitorUnhealthy: false,
        ScalingMode: 'CLASSIC_SCALING',
        ReplaceLoadBalancerUnhealthy: false,
        ReplaceMode: 'RECREATE',
        AutoUpdateInstanceTags: false,
        DesiredCapacitySyncWithMaxMinSize: false,
        PriorityScaleInUnhealthy: false,
      },
      Ipv6AddressCount: 0,
      SpotMixedAllocationPolicy: {
        BaseCapacity: 0,
        OnDemandPercentageAboveBaseCapacity: 100,
        SpotAllocationStrategy: 'COST_OPTIMIZED',
        CompensateWithBaseInstance: true,
      },
      InstanceNameIndexSettings: { Enabled: false, BeginIndex: 0, IndexLength: 0 },
      HostNameIndexSettings: { Enabled: false, BeginIndex: 0, IndexLength: 0 },
      ConcurrentScaleOutForDesiredCapacity: false,
      MultiZoneSubnetPolicy: 'PRIORITY',
      HealthCheckType: 'CVM',
      LoadBalancerHealthCheckGracePeriod: 0,
      InstanceAllocationPolicy: 'LAUNCH_CONFIGURATION',
      CapacityRebalance: false,
    };
  }

  private describeInstances(region: string, payload: Record<string, unknown>): Record<string, unknown> {
    const ids = payload.InstanceIds as string[] | undefined;
    this.state.settle(this.now());
    const instances = (
      ids ? ids.flatMap((id) => this.state.instances.get(id) ?? []) : [...this.state.instances.values()]
    ).filter((i) => {
      const group = i.autoScalingGroupId ? this.state.groups.get(i.autoScalingGroupId) : undefined;
      return group?.region === region;
    });
    const { limit, offset } = page(payload);
    return {
      TotalCount: instances.length,
      AutoScalingInstanceSet: instances.slice(offset, offset + limit).map((i) => {
        const group = this.state.groups.get(i.autoScalingGroupId as string) as TencentGroup;
        return {
          InstanceId: i.instanceId,
          AutoScalingGroupId: i.autoScalingGroupId,
          AutoScalingGroupName: group.autoScalingGroupName ?? group.autoScalingGroupId,
          LaunchConfigurationId: group.launchConfigurationId,
          LaunchConfigurationName: group.launchConfigurationId,
          LifeCycleState: i.lifeCycleState,
          HealthStatus: 'HEALTHY',
          ProtectedFromScaleIn: i.protectedFromScaleIn,
          Zone: i.zone ?? group.zones[0] ?? `${group.region}-1`,
          CreationType: i.creationType,
          AddTime: isoSeconds(i.addedAt),
          InstanceType: 'S5.MEDIUM2',
          VersionNumber: 1,
          WarmupStatus: 'NO_NEED_WARMUP',
          DisasterRecoverGroupIds: [],
        };
      }),
    };
  }
}

/** The API 3.0 error envelope; the status is 200 unless a fault asks for another. */
export function tencentError(
  code: string,
  message: string,
  requestId = randomUUID(),
  status = 200,
): Api3Answer {
  return { status, body: { Response: { Error: { Code: code, Message: message }, RequestId: requestId } } };
}

function parsePayload(body: string): Record<string, unknown> {
  try {
    const parsed = JSON.parse(body || '{}') as unknown;
    if (parsed && typeof parsed === 'object' && !Array.isArray(parsed))
      return parsed as Record<string, unknown>;
  } catch {
    // answered below
  }
  throw err('InvalidParameter', 'The body is not a JSON object.');
}

function page(payload: Record<string, unknown>): { limit: number; offset: number } {
  const limit = payload.Limit === undefined ? 20 : Number(payload.Limit);
  const offset = payload.Offset === undefined ? 0 : Number(payload.Offset);
  if (!Number.isInteger(limit) || limit < 1 || limit > 100)
    throw err('InvalidParameterValue.LimitExceeded', 'Limit must be 1 to 100.');
  if (!Number.isInteger(offset) || offset < 0) throw err('InvalidParameterValue', 'Offset is not valid.');
  return { limit, offset };
}

/** `Filters.0.Values.1=x` back into `{Filters:[{Values:[, 'x']}]}`, as the GET and v1 forms flatten a payload. */
export function unflatten(params: Record<string, string>): Record<string, unknown> {
  const root: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(params)) {
    const parts = key.split('.');
    let node: Record<string, unknown> | unknown[] = root;
    for (const [i, part] of parts.entries()) {
      const last = i === parts.length - 1;
      const slot = /^\d+$/.test(part) ? Number(part) : part;
      const container = node as Record<string | number, unknown>;
      if (last) container[slot] = value;
      else {
        container[slot] ??= /^\d+$/.test(parts[i + 1] as string) ? [] : {};
        node = container[slot] as Record<string, unknown> | unknown[];
      }
    }
  }
  return root;
}
