import type { Agent } from 'undici';
import * as z from 'zod';
import { DetachError, isCredentialsRefused } from '../../errors.ts';
import { type HttpTarget, httpTarget, parseJsonOrUndefined, post } from '../http.ts';
import { signTc3 } from './tc3-signer.ts';
import { tencentError } from './tencent-errors.ts';

export const TencentCredentials = z.object({
  secretId: z.string().min(1),
  secretKey: z.string().min(1),
  token: z.string().min(1).optional(),
});
export type TencentCredentials = z.infer<typeof TencentCredentials>;

export interface TencentClientOptions {
  credentials: () => Promise<TencentCredentials>;
  httpAgent: Agent;
  /** Replaces https://as.tencentcloudapi.com (the local emulator). */
  endpointOverride?: string;
  now?: () => Date;
  /**
   * Temporary credentials only (an assumed role): told which credentials the cloud refused
   * (`AuthFailure.TokenFailure`), to drop them; the call, which did not act, is then repeated once with fresh ones.
   */
  credentialsRefused?: (refused: TencentCredentials) => void;
}

/** Runs a call; temporary credentials the cloud refuses are dropped and the call repeated once with fresh ones. */
export async function withCredentialsRefresh<T>(
  options: Pick<TencentClientOptions, 'credentials' | 'credentialsRefused'>,
  call: (credentials: TencentCredentials) => Promise<T>,
): Promise<T> {
  const credentials = await options.credentials();
  const refused = options.credentialsRefused;
  if (!refused || !credentials.token) return call(credentials);
  try {
    return await call(credentials);
  } catch (error) {
    if (!isCredentialsRefused(error)) throw error;
    refused(credentials);
    return call(await options.credentials());
  }
}

const Envelope = z.object({
  Response: z.looseObject({
    RequestId: z.string().optional(),
    Error: z.object({ Code: z.string(), Message: z.string().default('') }).optional(),
  }),
});

const RelatedInstance = z.object({ InstanceId: z.string(), InstanceStatus: z.string() });
// A plain object schema (unknown fields dropped, nothing reads them): zod's compiled fast path, which a loose
// object, copying every unknown field of every activity, does not take.
export const TencentActivity = z.object({
  ActivityId: z.string(),
  AutoScalingGroupId: z.string(),
  ActivityType: z.string(),
  StatusCode: z.string(),
  StatusMessage: z.string().optional(),
  StartTime: z.string().optional(),
  EndTime: z.string().nullable().optional(),
  RelatedInstanceSet: z.array(RelatedInstance).optional(),
  ActivityRelatedInstanceSet: z.array(RelatedInstance).optional(),
});
export type TencentActivity = z.infer<typeof TencentActivity>;
const ActivityResponse = z.object({ ActivityId: z.string() });
const ActivitiesResponse = z.object({ TotalCount: z.number(), ActivitySet: z.array(TencentActivity) });
const GroupsResponse = z.object({
  AutoScalingGroupSet: z.array(
    z.looseObject({
      AutoScalingGroupId: z.string(),
      MinSize: z.number(),
      InServiceInstanceCount: z.number(),
      EnabledStatus: z.string(),
      InActivityStatus: z.string().optional(),
    }),
  ),
});
const InstancesResponse = z.object({
  TotalCount: z.number(),
  AutoScalingInstanceSet: z.array(
    z.looseObject({ InstanceId: z.string(), AutoScalingGroupId: z.string(), LifeCycleState: z.string() }),
  ),
});

/** Tencent Cloud AS API 3.0 (2018-04-19), TC3-HMAC-SHA256, JSON over POST. */
export class TencentAsClient {
  readonly #options: TencentClientOptions;
  readonly #target: HttpTarget;
  readonly #host: string;

  constructor(options: TencentClientOptions) {
    this.#options = options;
    const url = new URL(options.endpointOverride ?? 'https://as.tencentcloudapi.com/');
    this.#target = httpTarget(url);
    this.#host = url.host;
  }

  async detachInstances(
    region: string,
    autoScalingGroupId: string,
    instanceIds: readonly string[],
  ): Promise<string> {
    const body = await this.call('DetachInstances', region, {
      AutoScalingGroupId: autoScalingGroupId,
      InstanceIds: instanceIds,
    });
    return parse(ActivityResponse, body, 'DetachInstances').ActivityId;
  }

  async removeInstances(
    region: string,
    autoScalingGroupId: string,
    instanceIds: readonly string[],
  ): Promise<string> {
    const body = await this.call('RemoveInstances', region, {
      AutoScalingGroupId: autoScalingGroupId,
      InstanceIds: instanceIds,
    });
    return parse(ActivityResponse, body, 'RemoveInstances').ActivityId;
  }

  /** Up to 100 activity ids a call. */
  async describeActivities(region: string, activityIds: readonly string[]): Promise<TencentActivity[]> {
    const body = await this.call('DescribeAutoScalingActivities', region, {
      ActivityIds: activityIds,
      Limit: 100,
    });
    return parse(ActivitiesResponse, body, 'DescribeAutoScalingActivities').ActivitySet;
  }

  /** The group's activities started since `since` (ActivityIds and Filters cannot be combined). */
  async describeGroupActivities(
    region: string,
    autoScalingGroupId: string,
    since: Date,
  ): Promise<TencentActivity[]> {
    const body = await this.call('DescribeAutoScalingActivities', region, {
      Filters: [{ Name: 'auto-scaling-group-id', Values: [autoScalingGroupId] }],
      StartTime: `${since.toISOString().slice(0, 19)}Z`,
      Limit: 100,
    });
    return parse(ActivitiesResponse, body, 'DescribeAutoScalingActivities').ActivitySet;
  }

  async describeGroup(region: string, autoScalingGroupId: string) {
    const body = await this.call('DescribeAutoScalingGroups', region, {
      AutoScalingGroupIds: [autoScalingGroupId],
    });
    return parse(GroupsResponse, body, 'DescribeAutoScalingGroups').AutoScalingGroupSet[0];
  }

  /** Up to 100 instance ids a call; an instance in no group is absent. */
  async describeInstances(region: string, instanceIds: readonly string[]) {
    const body = await this.call('DescribeAutoScalingInstances', region, {
      InstanceIds: instanceIds,
      Limit: 100,
    });
    return parse(InstancesResponse, body, 'DescribeAutoScalingInstances').AutoScalingInstanceSet;
  }

  call(action: string, region: string, payload: Record<string, unknown>): Promise<Record<string, unknown>> {
    return withCredentialsRefresh(this.#options, (credentials) =>
      this.callWith(credentials, action, region, payload),
    );
  }

  private async callWith(
    credentials: TencentCredentials,
    action: string,
    region: string,
    payload: Record<string, unknown>,
  ): Promise<Record<string, unknown>> {
    const host = this.#host;
    const timestamp = Math.floor((this.#options.now?.() ?? new Date()).getTime() / 1000);
    const body = JSON.stringify(payload);
    const signed = signTc3({
      method: 'POST',
      headers: { 'content-type': 'application/json', host },
      body,
      timestamp,
      service: 'as',
      secretId: credentials.secretId,
      secretKey: credentials.secretKey,
    });
    const headers: Record<string, string> = {
      'content-type': 'application/json',
      host,
      'x-tc-action': action,
      'x-tc-version': '2018-04-19',
      'x-tc-timestamp': String(timestamp),
      'x-tc-region': region,
      authorization: signed.authorization,
    };
    if (credentials.token) headers['x-tc-token'] = credentials.token;
    const { status, text } = await post(this.#options.httpAgent, this.#target, headers, body);
    const envelope = Envelope.safeParse(parseJsonOrUndefined(text));
    if (!envelope.success) {
      throw new DetachError(
        'InvalidResponse',
        `Tencent AS answered HTTP ${status} without a Response`,
        // An answer we cannot read is the cloud's fault, retried like a 5xx.
        'transient',
        { httpStatus: status },
      );
    }
    const { Error: error, RequestId } = envelope.data.Response;
    if (error) throw tencentError(error.Code, error.Message, status, RequestId);
    if (status >= 300)
      throw new DetachError(
        `HTTP${status}`,
        `Tencent AS answered HTTP ${status}`,
        status >= 500 ? 'transient' : 'fatal',
      );
    return envelope.data.Response;
  }
}

function parse<T extends z.ZodType>(schema: T, body: unknown, action: string): z.infer<T> {
  const parsed = schema.safeParse(body);
  if (!parsed.success)
    throw new DetachError('InvalidResponse', `${action} returned an unexpected body`, 'transient');
  return parsed.data;
}
