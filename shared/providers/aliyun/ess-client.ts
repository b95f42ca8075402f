import { randomUUID } from 'node:crypto';
import type { Agent } from 'undici';
import * as z from 'zod';
import { DetachError, isCredentialsRefused } from '../../errors.ts';
import { type HttpTarget, httpTarget, post, postForm } from '../http.ts';
import { acs3CanonicalQuery, acs3Date, signAcs3 } from './acs3-signer.ts';
import { essEndpoint } from './ess-endpoints.ts';
import { essError } from './ess-errors.ts';
import {
  ActivitiesResponse,
  type EssActivity,
  EssErrorBody,
  type EssParams,
  type EssScalingGroup,
  flattenList,
  GroupsResponse,
  InstancesResponse,
  MutationResponse,
} from './ess-responses.ts';
import { canonicalQuery, percentEncode, rpcTimestamp, signRpcQuery } from './rpc-signer.ts';

export type { EssParams } from './ess-responses.ts';
export { EssActivity, EssScalingGroup, EssScalingInstance, flattenList } from './ess-responses.ts';

export const EssCredentials = z.object({
  accessKeyId: z.string().min(1),
  accessKeySecret: z.string().min(1),
  securityToken: z.string().min(1).optional(),
});
export type EssCredentials = z.infer<typeof EssCredentials>;

export interface EssClientOptions {
  /** Asked on every call, so that a rotated key is used as soon as its source has it. */
  credentials: () => Promise<EssCredentials>;
  httpAgent: Agent;
  /** Replaces the per-region endpoint (the local emulator). */
  endpointOverride?: string;
  now?: () => Date;
  nonce?: () => string;
  /** `rpc` (signature 1.0, HMAC-SHA1, the default) or `v3` (ACS3-HMAC-SHA256, the Authorization header). */
  signatureVersion?: 'rpc' | 'v3';
  /**
   * Temporary credentials only (an assumed role): told which credentials the cloud refused (an expired or
   * mismatched security token), to drop them; the call, which did not act, is then repeated once with fresh ones.
   */
  credentialsRefused?: (refused: EssCredentials) => void;
}

/** Alibaba Cloud ESS (2014-08-28) over RPC signature 1.0, POST form, JSON responses. */
export class EssClient {
  readonly #options: EssClientOptions;
  /** By endpoint: split once, not on every call. */
  readonly #targets = new Map<string, HttpTarget>();

  constructor(options: EssClientOptions) {
    this.#options = options;
  }

  async detachInstances(input: {
    region: string;
    scalingGroupId: string;
    instanceIds: readonly string[];
    clientToken?: string;
    decreaseDesiredCapacity?: boolean;
    detachOption?: 'both';
    lifecycleHook?: boolean;
    ignoreInvalidInstance?: boolean;
  }): Promise<{ requestId: string; scalingActivityId?: string }> {
    const body = await this.call('DetachInstances', input.region, {
      ScalingGroupId: input.scalingGroupId,
      ...flattenList('InstanceId', input.instanceIds),
      ClientToken: input.clientToken,
      DecreaseDesiredCapacity: input.decreaseDesiredCapacity,
      DetachOption: input.detachOption,
      LifecycleHook: input.lifecycleHook,
      IgnoreInvalidInstance: input.ignoreInvalidInstance,
    });
    const parsed = parseResponse(MutationResponse, body, 'DetachInstances');
    return {
      requestId: parsed.RequestId,
      ...(parsed.ScalingActivityId && { scalingActivityId: parsed.ScalingActivityId }),
    };
  }

  async removeInstances(input: {
    region: string;
    scalingGroupId: string;
    instanceIds: readonly string[];
    clientToken?: string;
    removePolicy?: 'release' | 'recycle';
    decreaseDesiredCapacity?: boolean;
    ignoreInvalidInstance?: boolean;
    stopInstanceTimeout?: number;
  }): Promise<{ requestId: string; scalingActivityId?: string }> {
    const body = await this.call('RemoveInstances', input.region, {
      ScalingGroupId: input.scalingGroupId,
      ...flattenList('InstanceId', input.instanceIds),
      ClientToken: input.clientToken,
      RemovePolicy: input.removePolicy,
      DecreaseDesiredCapacity: input.decreaseDesiredCapacity,
      IgnoreInvalidInstance: input.ignoreInvalidInstance,
      StopInstanceTimeout: input.stopInstanceTimeout,
    });
    return mutationResult(body, 'RemoveInstances');
  }

  /** Answers only a RequestId: confirm with DescribeScalingGroups. */
  async detachVServerGroups(input: {
    region: string;
    scalingGroupId: string;
    vServerGroups: readonly {
      loadBalancerId: string;
      vServerGroupAttributes: readonly { vServerGroupId: string; port: number }[];
    }[];
    forceDetach?: boolean;
    clientToken?: string;
  }): Promise<{ requestId: string }> {
    const params: EssParams = {
      ScalingGroupId: input.scalingGroupId,
      ForceDetach: input.forceDetach,
      ClientToken: input.clientToken,
    };
    for (const [n, lb] of input.vServerGroups.entries()) {
      params[`VServerGroup.${n + 1}.LoadBalancerId`] = lb.loadBalancerId;
      for (const [m, attribute] of lb.vServerGroupAttributes.entries()) {
        params[`VServerGroup.${n + 1}.VServerGroupAttribute.${m + 1}.VServerGroupId`] =
          attribute.vServerGroupId;
        params[`VServerGroup.${n + 1}.VServerGroupAttribute.${m + 1}.Port`] = attribute.port;
      }
    }
    return mutationResult(
      await this.call('DetachVServerGroups', input.region, params),
      'DetachVServerGroups',
    );
  }

  /** Answers a ScalingActivityId only with ForceDetach. */
  async detachAlbServerGroups(input: {
    region: string;
    scalingGroupId: string;
    albServerGroups: readonly { albServerGroupId: string; port: number }[];
    forceDetach?: boolean;
    clientToken?: string;
  }): Promise<{ requestId: string; scalingActivityId?: string }> {
    const params: EssParams = {
      ScalingGroupId: input.scalingGroupId,
      ForceDetach: input.forceDetach,
      ClientToken: input.clientToken,
    };
    for (const [n, group] of input.albServerGroups.entries()) {
      params[`AlbServerGroup.${n + 1}.AlbServerGroupId`] = group.albServerGroupId;
      params[`AlbServerGroup.${n + 1}.Port`] = group.port;
    }
    return mutationResult(
      await this.call('DetachAlbServerGroups', input.region, params),
      'DetachAlbServerGroups',
    );
  }

  /** Up to 20 activity ids a call (ScalingActivityId.N). */
  async describeScalingActivities(region: string, activityIds: readonly string[]): Promise<EssActivity[]> {
    if (activityIds.length === 0 || activityIds.length > 20) {
      throw new DetachError(
        'InvalidParameter',
        'DescribeScalingActivities takes 1 to 20 activity ids',
        'fatal',
      );
    }
    // The poller's call: the list written straight into the parameters (no intermediate object to spread).
    const body = await this.call(
      'DescribeScalingActivities',
      region,
      flattenList('ScalingActivityId', activityIds, { PageSize: 50 }),
    );
    return parseResponse(ActivitiesResponse, body, 'DescribeScalingActivities').ScalingActivities
      .ScalingActivity;
  }

  /** Up to 20 group ids a call (ScalingGroupId.N); inactive groups are left out by ESS. */
  /** Whether the group has an activity in progress (one we may not know of). */
  async hasActivityInProgress(region: string, scalingGroupId: string): Promise<boolean> {
    const body = await this.call('DescribeScalingActivities', region, {
      ScalingGroupId: scalingGroupId,
      StatusCode: 'InProgress',
      PageSize: 1,
    });
    return (
      parseResponse(ActivitiesResponse, body, 'DescribeScalingActivities').ScalingActivities.ScalingActivity
        .length > 0
    );
  }

  async describeScalingGroups(
    region: string,
    scalingGroupIds: readonly string[],
  ): Promise<EssScalingGroup[]> {
    const body = await this.call('DescribeScalingGroups', region, {
      ...flattenList('ScalingGroupId', scalingGroupIds),
      PageSize: 50,
    });
    return parseResponse(GroupsResponse, body, 'DescribeScalingGroups').ScalingGroups.ScalingGroup;
  }

  async describeScalingInstances(
    region: string,
    scalingGroupId: string,
    instanceIds: readonly string[] = [],
  ) {
    const body = await this.call('DescribeScalingInstances', region, {
      ScalingGroupId: scalingGroupId,
      ...flattenList('InstanceId', instanceIds),
      PageSize: 100,
    });
    return parseResponse(InstancesResponse, body, 'DescribeScalingInstances').ScalingInstances
      .ScalingInstance;
  }

  /**
   * One signed call. Every attempt gets a fresh nonce and timestamp; idempotency rides on ClientToken. Temporary
   * credentials the cloud refuses are refreshed once and the call repeated (the refusal came before it could act).
   */
  async call(action: string, region: string, operationParams: EssParams): Promise<unknown> {
    const credentials = await this.#options.credentials();
    const refused = this.#options.credentialsRefused;
    if (!refused || !credentials.securityToken)
      return this.callWith(credentials, action, region, operationParams);
    try {
      return await this.callWith(credentials, action, region, operationParams);
    } catch (error) {
      if (!isCredentialsRefused(error)) throw error;
      refused(credentials);
      return this.callWith(await this.#options.credentials(), action, region, operationParams);
    }
  }

  private async callWith(
    credentials: EssCredentials,
    action: string,
    region: string,
    operationParams: EssParams,
  ): Promise<unknown> {
    const now = this.#options.now?.() ?? new Date();
    const nonce = this.#options.nonce?.() ?? randomUUID();
    const endpoint = this.#options.endpointOverride ?? essEndpoint(region);
    const response =
      this.#options.signatureVersion === 'v3'
        ? await this.sendV3(endpoint, action, region, operationParams, credentials, now, nonce)
        : await this.sendRpc(endpoint, action, region, operationParams, credentials, now, nonce);
    let json: unknown;
    try {
      json = JSON.parse(response.text);
    } catch {
      throw essError(
        response.status >= 500 ? 'ServiceUnavailable' : 'InvalidResponse',
        `ESS answered HTTP ${response.status} with a body that is not JSON`,
        response.status >= 500 ? response.status : 502,
      );
    }
    if (response.status >= 200 && response.status < 300) return json;
    const error = EssErrorBody.safeParse(json);
    if (!error.success) {
      throw essError(
        'InvalidResponse',
        `ESS answered HTTP ${response.status} without an error code`,
        response.status,
      );
    }
    throw essError(error.data.Code, error.data.Message, response.status, error.data.RequestId);
  }

  private sendRpc(
    endpoint: string,
    action: string,
    region: string,
    operationParams: EssParams,
    credentials: EssCredentials,
    now: Date,
    nonce: string,
  ) {
    const params: Record<string, string> = {
      Action: action,
      Version: '2014-08-28',
      Format: 'JSON',
      AccessKeyId: credentials.accessKeyId,
      SignatureMethod: 'HMAC-SHA1',
      SignatureVersion: '1.0',
      SignatureNonce: nonce,
      Timestamp: rpcTimestamp(now),
    };
    if (credentials.securityToken) params.SecurityToken = credentials.securityToken;
    addOperation(params, region, operationParams);
    // The canonical query is both what is signed and the body: encoded and sorted once.
    const query = canonicalQuery(params);
    const signature = signRpcQuery('POST', query, credentials.accessKeySecret);
    const body = `${query}&Signature=${percentEncode(signature)}`;
    let target = this.#targets.get(endpoint);
    if (!target) {
      target = httpTarget(endpoint);
      this.#targets.set(endpoint, target);
    }
    return post(this.#options.httpAgent, target, FORM, body);
  }

  /** V3: the operation's parameters in the query, an empty body, everything else in signed headers. */
  private sendV3(
    endpoint: string,
    action: string,
    region: string,
    operationParams: EssParams,
    credentials: EssCredentials,
    now: Date,
    nonce: string,
  ) {
    const operation = addOperation({}, region, operationParams);
    const url = new URL(endpoint);
    const signed = signAcs3({
      method: 'POST',
      query: operation,
      headers: {
        host: url.host,
        'x-acs-action': action,
        'x-acs-version': '2014-08-28',
        'x-acs-date': acs3Date(now),
        'x-acs-signature-nonce': nonce,
        ...(credentials.securityToken && { 'x-acs-security-token': credentials.securityToken }),
      },
      body: '',
      accessKeyId: credentials.accessKeyId,
      accessKeySecret: credentials.accessKeySecret,
    });
    const { host: _host, ...headers } = signed.headers;
    return postForm(this.#options.httpAgent, `${url.origin}/?${acs3CanonicalQuery(operation)}`, '', headers);
  }
}

const FORM = { 'content-type': 'application/x-www-form-urlencoded' };

/** The operation's parameters as strings (those left undefined are not sent), and the region, which every call takes. */
function addOperation(
  params: Record<string, string>,
  region: string,
  operationParams: EssParams,
): Record<string, string> {
  params.RegionId = region;
  for (const key of Object.keys(operationParams)) {
    const value = operationParams[key];
    if (value !== undefined) params[key] = String(value);
  }
  return params;
}

function mutationResult(body: unknown, action: string): { requestId: string; scalingActivityId?: string } {
  const parsed = parseResponse(MutationResponse, body, action);
  return {
    requestId: parsed.RequestId,
    ...(parsed.ScalingActivityId && { scalingActivityId: parsed.ScalingActivityId }),
  };
}

function parseResponse<T extends z.ZodType>(schema: T, body: unknown, action: string): z.infer<T> {
  const parsed = schema.safeParse(body);
  if (!parsed.success) {
    // A 200 we cannot read is a protocol fault on the cloud's side, so it is retried like a 5xx.
    throw new DetachError(
      'InvalidResponse',
      `${action} returned an unexpected body: ${parsed.error.message}`,
      'transient',
    );
  }
  return parsed.data;
}
