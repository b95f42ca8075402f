import { createHash, randomUUID } from 'node:crypto';
import { instanceStateAccepted } from '../../shared/contracts/instance-states.ts';
import { NonceWindow } from '../nonce-window.ts';
import type { Permit } from '../policies.ts';
import type { EmulatorSeed } from '../seed.ts';
import {
  aliyunAcs3Signature,
  aliyunRpcSignature,
  aliyunRpcStringToSign,
  hashedPayload,
  hostVariants,
  parseAcs3Authorization,
  sameSecret,
} from '../signatures.ts';
import { type Activity, EssState, type Group, type Instance } from './ess-state.ts';
import { answerIn, type EssVersion, isEssVersion, paramsOf2014 } from './ess-versions.ts';

export interface RpcRequest {
  method: string;
  /** Query and form parameters together, as the signature covers them. */
  params: Record<string, string>;
  /** V3 (ACS3-HMAC-SHA256) only: the query alone, the headers and the raw body. */
  query?: Record<string, string>;
  headers?: Record<string, string | string[] | undefined>;
  body?: string;
}

const headerOf = (request: RpcRequest, name: string): string | undefined => {
  const value = request.headers?.[name];
  return Array.isArray(value) ? value[0] : value;
};

/**
 * A V3 call carries its signature in the Authorization header and its action in x-acs-action. An RPC call may
 * carry x-acs-action too (pop-core sends it), but then it is signed in its parameters.
 */
export const isAcs3Request = (headers: RpcRequest['headers'], params: Record<string, string>): boolean =>
  String(headers?.authorization ?? '').startsWith('ACS3-') ||
  (headers?.['x-acs-action'] !== undefined && params.Signature === undefined);

export interface RpcAnswer {
  status: number;
  format: 'JSON' | 'XML';
  rootName: string;
  body: Record<string, unknown>;
}

export class EssApiError extends Error {
  constructor(
    readonly httpStatus: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

const SKEW_MS = 15 * 60 * 1000;
const TIMESTAMP = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/;
const COMMON_REQUIRED = [
  'AccessKeyId',
  'Signature',
  'SignatureMethod',
  'SignatureVersion',
  'SignatureNonce',
  'Timestamp',
  'Version',
  'Action',
];
/** Calls that take a ClientToken and so must answer a repeated token with the first result. */
const IDEMPOTENT_ACTIONS = new Set([
  'DetachInstances',
  'RemoveInstances',
  'DetachVServerGroups',
  'DetachAlbServerGroups',
]);

const err = (status: number, code: string, message: string) => new EssApiError(status, code, message);

/** Index of `Name.N` parameters, 1-based and contiguous as ESS requires. */
function listParam(params: Record<string, string>, name: string, max: number): string[] {
  const values: string[] = [];
  const pattern = new RegExp(`^${name.replace('.', '\\.')}\\.(\\d+)$`);
  const indexes = Object.keys(params)
    .map((key) => pattern.exec(key)?.[1])
    .filter((n): n is string => n !== undefined)
    .map(Number)
    .sort((a, b) => a - b);
  for (const [position, index] of indexes.entries()) {
    if (index !== position + 1 || index > max) {
      throw err(
        400,
        'InvalidParameter',
        `The parameter ${name}.N must be numbered 1 to ${max} without gaps.`,
      );
    }
    values.push(params[`${name}.${index}`] as string);
  }
  return values;
}

function requiredList(params: Record<string, string>, name: string, max: number): string[] {
  const values = listParam(params, name, max);
  if (values.length === 0) requireParam(params, `${name}.1`);
  return values;
}

function requireParam(params: Record<string, string>, name: string, prefix = ''): string {
  const value = params[name];
  if (value === undefined || value === '') {
    throw err(
      400,
      'MissingParameter',
      `The input parameter "${prefix}${name}" that is mandatory for processing this request is not supplied.`,
    );
  }
  return value;
}

function port(value: string | undefined, name: string): number {
  if (value === undefined)
    throw err(
      400,
      'MissingParameter',
      `The input parameter "${name}" that is mandatory for processing this request is not supplied.`,
    );
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > 65535)
    throw err(400, 'InvalidParameter', `The specified value of parameter "${name}" is not valid.`);
  return n;
}

/** `Name.N.Field...` parameters as a list of { index, fields } with the `Name.N.` prefix taken off; N is 1..max. */
function objectList(
  params: Record<string, string>,
  name: string,
  max: number,
): { index: number; fields: Record<string, string> }[] {
  const byIndex = new Map<number, Record<string, string>>();
  const pattern = new RegExp(`^${name}\\.(\\d+)\\.(.+)$`);
  for (const [key, value] of Object.entries(params)) {
    const match = pattern.exec(key);
    if (!match) continue;
    const index = Number(match[1]);
    if (index < 1 || index > max)
      throw err(400, 'InvalidParameter', `The specified value of parameter "${name}.${index}" is not valid.`);
    byIndex.set(index, { ...byIndex.get(index), [match[2] as string]: value });
  }
  return [...byIndex.entries()].sort(([a], [b]) => a - b).map(([index, fields]) => ({ index, fields }));
}

function bool(params: Record<string, string>, name: string, fallback: boolean): boolean {
  const value = params[name];
  if (value === undefined) return fallback;
  if (value !== 'true' && value !== 'false')
    throw err(400, 'InvalidParameter', `The parameter ${name} must be true or false.`);
  return value === 'true';
}

const minute = (ms: number) => `${new Date(ms).toISOString().slice(0, 16)}Z`;

/** Alibaba Cloud ESS 2014-08-28 over RPC, to the letter of the seed documents. */
export class EssApi {
  readonly state: EssState;
  readonly #secrets: Map<string, { secret: string; allowed?: Set<string> }>;
  readonly #nonces = new NonceWindow(SKEW_MS);
  readonly #tokens = new Map<string, { fingerprint: string; answer: Record<string, unknown> }>();

  constructor(
    seed: EmulatorSeed,
    private readonly now: () => number = Date.now,
    /** The RAM check of the caller's policies (emulator/policies.ts); absent: every signed call is allowed. */
    private readonly permit?: Permit,
  ) {
    this.state = new EssState(seed);
    this.#secrets = new Map(
      seed.credentials.map((c) => [
        c.accessKeyId,
        { secret: c.accessKeySecret, ...(c.allowedActions && { allowed: new Set(c.allowedActions) }) },
      ]),
    );
  }

  /** Adds the seed's credentials, groups and instances to the running world. */
  add(seed: EmulatorSeed): void {
    for (const c of seed.credentials) {
      this.#secrets.set(c.accessKeyId, {
        secret: c.accessKeySecret,
        ...(c.allowedActions && { allowed: new Set(c.allowedActions) }),
      });
    }
    this.state.add(seed);
  }

  /** A key the STS issued: known to the signature checks, with no action list of its own. */
  addKey(accessKeyId: string, secret: string): void {
    this.#secrets.set(accessKeyId, { secret });
  }

  handle(request: RpcRequest): RpcAnswer {
    const format = request.params.Format?.toUpperCase() === 'XML' ? 'XML' : 'JSON';
    const v3 = isAcs3Request(request.headers, request.params);
    const action = (v3 ? headerOf(request, 'x-acs-action') : request.params.Action) ?? 'Unknown';
    try {
      const signed = v3 ? this.authenticateV3(request) : this.authenticate(request);
      // authorize() let only the versions ESS serves through.
      const version = signed.Version as EssVersion;
      const params = version === '2022-02-22' ? paramsOf2014(signed) : signed;
      const body = answerIn(version, this.dispatch(action, params));
      return {
        status: 200,
        format,
        rootName: `${action}Response`,
        body: { RequestId: randomUUID().toUpperCase(), ...body },
      };
    } catch (error) {
      if (!(error instanceof EssApiError)) throw error;
      return {
        status: error.httpStatus,
        format,
        rootName: 'Error',
        body: {
          RequestId: randomUUID().toUpperCase(),
          HostId: 'ess.aliyuncs.com',
          Code: error.code,
          Message: error.message,
        },
      };
    }
  }

  /** RPC signature 1.0; returns the parameters, which carry Action, Version and AccessKeyId themselves. */
  private authenticate({ method, params }: RpcRequest): Record<string, string> {
    for (const name of COMMON_REQUIRED) {
      if (!params[name])
        throw err(
          400,
          'MissingParameter',
          `The input parameter "${name}" that is mandatory for processing this request is not supplied.`,
        );
    }
    const credential = this.#secrets.get(params.AccessKeyId as string);
    if (!credential) throw err(404, 'InvalidAccessKeyId.NotFound', 'Specified access key is not found.');
    if (params.SignatureMethod !== 'HMAC-SHA1' || params.SignatureVersion !== '1.0') {
      throw err(400, 'IncompleteSignature', 'The request signature does not conform to Aliyun standards.');
    }
    const timestamp = params.Timestamp as string;
    if (!TIMESTAMP.test(timestamp) || Number.isNaN(Date.parse(timestamp))) {
      throw err(400, 'InvalidTimeStamp.Format', 'Specified time stamp or date value is not well formatted.');
    }
    if (Math.abs(this.now() - Date.parse(timestamp)) > SKEW_MS) {
      throw err(400, 'InvalidTimeStamp.Expired', 'Specified time stamp or date value is expired.');
    }
    if (!sameSecret(aliyunRpcSignature(method, params, credential.secret), params.Signature as string)) {
      // As the service does: the answer echoes the server's string to sign. Our clients scrub it
      // (shared/providers/scrub-cloud-message.ts) before the message goes anywhere.
      throw err(
        400,
        'SignatureDoesNotMatch',
        `Specified signature is not matched with our calculation. server string to sign is:${aliyunRpcStringToSign(method, params)}`,
      );
    }
    this.useNonce(params.AccessKeyId as string, params.SignatureNonce as string);
    this.authorize(credential, params.Version, params.Action as string, params);
    return params;
  }

  /**
   * Signature V3 (ACS3-HMAC-SHA256), as the V3 signature doc describes it: x-acs-action, x-acs-version,
   * x-acs-date (15 min of skew), x-acs-signature-nonce, x-acs-content-sha256 (the body's hash) and an
   * Authorization header whose SignedHeaders cover host and every x-acs-* header sent. Returns the operation's
   * parameters with Action, Version and AccessKeyId filled in from the headers, as the RPC form would carry them.
   */
  private authenticateV3(request: RpcRequest): Record<string, string> {
    const authorizationHeader = headerOf(request, 'authorization');
    if (!authorizationHeader)
      throw err(
        400,
        'MissingParameter',
        'The input parameter "Authorization" that is mandatory for processing this request is not supplied.',
      );
    const authorization = parseAcs3Authorization(authorizationHeader);
    if (!authorization)
      throw err(400, 'IncompleteSignature', 'The request signature does not conform to Aliyun standards.');
    for (const name of [
      'x-acs-action',
      'x-acs-version',
      'x-acs-date',
      'x-acs-signature-nonce',
      'x-acs-content-sha256',
    ]) {
      if (!headerOf(request, name))
        throw err(
          400,
          'MissingParameter',
          `The input parameter "${name}" that is mandatory for processing this request is not supplied.`,
        );
    }
    const credential = this.#secrets.get(authorization.accessKeyId);
    if (!credential) throw err(404, 'InvalidAccessKeyId.NotFound', 'Specified access key is not found.');
    const sent = Object.keys(request.headers ?? {}).map((name) => name.toLowerCase());
    const mustSign = ['host', ...sent.filter((name) => name.startsWith('x-acs-'))];
    if (mustSign.some((name) => !authorization.signedHeaders.includes(name))) {
      throw err(400, 'IncompleteSignature', 'The request signature does not conform to Aliyun standards.');
    }
    const date = headerOf(request, 'x-acs-date') as string;
    if (!TIMESTAMP.test(date) || Number.isNaN(Date.parse(date))) {
      throw err(400, 'InvalidTimeStamp.Format', 'Specified time stamp or date value is not well formatted.');
    }
    if (Math.abs(this.now() - Date.parse(date)) > SKEW_MS) {
      throw err(400, 'InvalidTimeStamp.Expired', 'Specified time stamp or date value is expired.');
    }
    // The gateway hashes the body it received: a header that lies about it makes the signature differ.
    const contentHash = hashedPayload(request.body ?? '');
    const signedValues = (host: string) =>
      Object.fromEntries(
        authorization.signedHeaders.map((name) => [
          name,
          name === 'host' ? host : (headerOf(request, name) ?? ''),
        ]),
      );
    const matches = hostVariants(headerOf(request, 'host') ?? '').some((host) =>
      sameSecret(
        aliyunAcs3Signature({
          method: request.method,
          query: request.query ?? {},
          headers: signedValues(host),
          hashedPayload: contentHash,
          secret: credential.secret,
        }),
        authorization.signature,
      ),
    );
    if (!matches || headerOf(request, 'x-acs-content-sha256') !== contentHash)
      throw err(400, 'SignatureDoesNotMatch', 'Specified signature is not matched with our calculation.');
    this.useNonce(authorization.accessKeyId, headerOf(request, 'x-acs-signature-nonce') as string);
    const action = headerOf(request, 'x-acs-action') as string;
    const version = headerOf(request, 'x-acs-version');
    this.authorize(credential, version, action, {
      ...request.params,
      AccessKeyId: authorization.accessKeyId,
    });
    return {
      ...request.params,
      Action: action,
      Version: version as string,
      AccessKeyId: authorization.accessKeyId,
    };
  }

  private useNonce(accessKeyId: string, nonce: string): void {
    const key = `${accessKeyId}:${nonce}`;
    if (this.#nonces.has(key, this.now()))
      throw err(400, 'SignatureNonceUsed', 'Specified signature nonce was used already.');
    this.#nonces.add(key, this.now());
  }

  private authorize(
    credential: { allowed?: Set<string> },
    version: string | undefined,
    action: string,
    params: Record<string, string>,
  ): void {
    if (!isEssVersion(version)) throw err(400, 'InvalidVersion', 'Specified parameter Version is not valid.');
    // RAM answers before the service looks at the group: a caller without the permission learns nothing of it.
    const denied = this.permit?.(params.AccessKeyId ?? '', `ess:${action}`, {
      region: params.RegionId ?? '',
      groupId: params.ScalingGroupId,
    });
    if (denied) throw err(403, 'Forbidden.RAM', denied);
    if (credential.allowed && !credential.allowed.has(action)) {
      throw err(
        403,
        'Forbidden.Unauthorized',
        'A required authorization for the specified action is not supplied.',
      );
    }
  }

  private dispatch(action: string, params: Record<string, string>): Record<string, unknown> {
    const token = params.ClientToken;
    if (token !== undefined && IDEMPOTENT_ACTIONS.has(action)) {
      if (token.length > 64 || !/^[\x20-\x7e]+$/.test(token)) {
        throw err(400, 'InvalidParameter', 'The specified parameter "ClientToken" is not valid.');
      }
      // Scoped to the account, as ESS scopes it (each account's world has its own EssApi), not to the access key:
      // a repeat signed with refreshed temporary credentials is the same request.
      const key = `${action}:${token}`;
      const fingerprint = fingerprintOf(params);
      const seen = this.#tokens.get(key);
      if (seen) {
        if (seen.fingerprint !== fingerprint) {
          throw err(
            400,
            'IdempotentParameterMismatch',
            'The request uses the same client token as a previous, but non-identical request.',
          );
        }
        return seen.answer;
      }
      const answer = this.act(action, params);
      this.#tokens.set(key, { fingerprint, answer });
      return answer;
    }
    return this.act(action, params);
  }

  private act(action: string, params: Record<string, string>): Record<string, unknown> {
    switch (action) {
      case 'DetachInstances':
        return this.detachInstances(params);
      case 'RemoveInstances':
        return this.removeInstances(params);
      case 'DetachVServerGroups':
        return this.detachVServerGroups(params);
      case 'DetachAlbServerGroups':
        return this.detachAlbServerGroups(params);
      case 'DescribeScalingActivities':
        return this.describeScalingActivities(params);
      case 'DescribeScalingGroups':
        return this.describeScalingGroups(params);
      case 'DescribeScalingInstances':
        return this.describeScalingInstances(params);
      default:
        throw err(
          404,
          'InvalidAction.NotFound',
          `Specified api "${action}" is not found, please check your url and method.`,
        );
    }
  }

  private requireGroup(params: Record<string, string>): Group {
    const id = params.ScalingGroupId;
    if (!id)
      throw err(
        400,
        'MissingParameter',
        'The input parameter "ScalingGroupId" that is mandatory for processing this request is not supplied.',
      );
    const group = this.state.groups.get(id);
    if (!group || (params.RegionId && group.regionId !== params.RegionId)) {
      throw err(404, 'InvalidScalingGroupId.NotFound', 'The specified scaling group does not exist.');
    }
    if (group.unauthorizedActions.includes(params.Action as string)) {
      throw err(
        403,
        'Forbidden.Unauthorized',
        'A required authorization for the specified action is not supplied.',
      );
    }
    return group;
  }

  /** Seed: aliyun-ess-DetachInstances.md. */
  private detachInstances(params: Record<string, string>): Record<string, unknown> {
    const instanceIds = requiredList(params, 'InstanceId', 20);
    const decrease = bool(params, 'DecreaseDesiredCapacity', true);
    const ignoreInvalid = bool(params, 'IgnoreInvalidInstance', false);
    bool(params, 'LifecycleHook', false);
    if (params.DetachOption !== undefined && params.DetachOption !== 'both') {
      throw err(400, 'InvalidParameter', 'The specified parameter "DetachOption" is not valid.');
    }
    const { group, valid, invalid, now } = this.instanceRemoval(params, instanceIds, ignoreInvalid);
    const activity = this.state.startActivity(group, 'DetachInstances', valid, now, {
      decreaseDesiredCapacity: decrease,
      detachFromBalancers: params.DetachOption === 'both',
    });
    this.warnAboutIgnored(activity, invalid);
    return { ScalingActivityId: activity.id };
  }

  /** Seed: aliyun-ess-RemoveInstances.md. */
  private removeInstances(params: Record<string, string>): Record<string, unknown> {
    const instanceIds = requiredList(params, 'InstanceId', 20);
    const decrease = bool(params, 'DecreaseDesiredCapacity', true);
    const ignoreInvalid = bool(params, 'IgnoreInvalidInstance', false);
    const policy = params.RemovePolicy ?? 'release';
    if (policy !== 'release' && policy !== 'recycle') {
      throw err(400, 'InvalidParameter', 'The specified parameter "RemovePolicy" is not valid.');
    }
    const timeout = params.StopInstanceTimeout;
    if (
      timeout !== undefined &&
      !(Number.isInteger(Number(timeout)) && Number(timeout) >= 30 && Number(timeout) <= 240)
    ) {
      throw err(400, 'InvalidParameter', 'The specified parameter "StopInstanceTimeout" is not valid.');
    }
    const group = this.requireGroup(params);
    if (policy === 'recycle' && group.scalingPolicy !== 'recycle') {
      throw err(400, 'InvalidParameter', 'The specified group does not support the specified RemovePolicy.');
    }
    const { valid, invalid, now } = this.instanceRemoval(params, instanceIds, ignoreInvalid);
    const activity = this.state.startActivity(group, 'RemoveInstances', valid, now, {
      decreaseDesiredCapacity: decrease,
      detachFromBalancers: true,
      removePolicy: policy,
    });
    this.warnAboutIgnored(activity, invalid);
    return {
      ScalingActivityId: activity.id,
      IgnoredInstances: invalid.map((id) => ({
        InstanceId: id,
        Code: 'InvalidInstanceId.NotFound',
        Message: `Instance "${id}" does not exist.`,
      })),
    };
  }

  /** The preconditions DetachInstances and RemoveInstances share, in the order a caller can act on them. */
  private instanceRemoval(params: Record<string, string>, listed: string[], ignoreInvalid: boolean) {
    // An id named twice is one instance: it counts once against MinSize and is acted on once.
    const instanceIds = [...new Set(listed)];
    const group = this.requireGroup(params);
    if (group.lifecycleState !== 'Active') {
      throw err(
        400,
        'IncorrectScalingGroupStatus',
        'The current status of the specified scaling group does not support this action.',
      );
    }
    const now = this.now();
    if (this.state.activityInProgress(group.scalingGroupId, now)) {
      throw err(
        400,
        'ScalingActivityInProgress',
        'You cannot delete a scaling group or launch a new scaling activity while there is a scaling activity in progress for the specified scaling group.',
      );
    }
    const members = new Set(this.state.membersOf(group.scalingGroupId).map((i) => i.instanceId));
    const invalid = instanceIds.filter((id) => !members.has(id));
    if (invalid.length > 0 && !ignoreInvalid)
      throw err(404, 'InvalidInstanceId.NotFound', `Instance "${invalid[0]}" does not exist.`);
    const badBalancer = group.loadBalancers.find((lb) => lb.status !== 'Active' && lb.status !== 'Running');
    if (badBalancer)
      throw err(
        400,
        'IncorrectLoadBalancerStatus',
        'The current status of the specified load balancer does not support this action.',
      );
    const badDatabase = group.dbInstances.find((db) => db.status !== 'Running');
    if (badDatabase)
      throw err(
        400,
        'IncorrectDBInstanceStatus',
        `The current status of DB instance "${badDatabase.id}" does not support this action.`,
      );
    const valid = instanceIds.filter((id) => members.has(id));
    // Pending and Removing states exist only inside an activity, which the check above already refused;
    // a seed may still place an instance in one (contracts/instance-states.ts).
    const refused = valid.filter(
      (id) => !instanceStateAccepted('aliyun', (this.state.instances.get(id) as Instance).lifecycleState),
    );
    if (refused.length > 0)
      throw err(
        400,
        'IncorrectInstanceStatus',
        `The current status of instance "${refused[0]}" does not support this action.`,
      );
    if (members.size - valid.length < group.minSize) {
      throw err(
        400,
        'IncorrectCapacity.MinSize',
        'To remove the instances, the total capacity will be lesser than the MinSize.',
      );
    }
    return { group, valid, invalid, now };
  }

  private warnAboutIgnored(activity: Activity, invalid: string[]): void {
    if (invalid.length === 0 || activity.outcome.status !== 'Successful') return;
    activity.ignoredInstanceIds = invalid;
    activity.outcome = {
      status: 'Warning',
      message: `Invalid instances were ignored: ${invalid.join(', ')}.`,
    };
  }

  /** Seed: aliyun-ess-DetachVServerGroups.md. A group that matches nothing is ignored without error. */
  private detachVServerGroups(params: Record<string, string>): Record<string, unknown> {
    requireParam(params, 'RegionId');
    const force = bool(params, 'ForceDetach', false);
    const balancers = objectList(params, 'VServerGroup', 5);
    if (balancers.length === 0) requireParam(params, 'VServerGroup.1.LoadBalancerId');
    const wanted = balancers.flatMap(({ index, fields }) => {
      const loadBalancerId = requireParam(fields, 'LoadBalancerId', `VServerGroup.${index}.`);
      const attributes = objectList(fields, 'VServerGroupAttribute', 5);
      if (attributes.length === 0)
        requireParam(fields, 'VServerGroupAttribute.1.VServerGroupId', `VServerGroup.${index}.`);
      return attributes.map((attribute) => ({
        loadBalancerId,
        vServerGroupId: requireParam(
          attribute.fields,
          'VServerGroupId',
          `VServerGroup.${index}.VServerGroupAttribute.${attribute.index}.`,
        ),
        port: port(
          attribute.fields.Port,
          `VServerGroup.${index}.VServerGroupAttribute.${attribute.index}.Port`,
        ),
      }));
    });
    const group = this.requireGroup(params);
    const matches = (g: { loadBalancerId: string; vServerGroupId: string; port: number }) =>
      wanted.some(
        (w) =>
          w.loadBalancerId === g.loadBalancerId && w.vServerGroupId === g.vServerGroupId && w.port === g.port,
      );
    const members = this.state.membersOf(group.scalingGroupId).map((i) => i.instanceId);
    const leaving = group.vServerGroups.filter(matches);
    this.state.later(group, this.now(), () => {
      group.vServerGroups = group.vServerGroups.filter((g) => !matches(g));
      if (force)
        for (const g of leaving)
          for (const id of members) this.state.backends.get(g.vServerGroupId)?.delete(id);
    });
    return {};
  }

  /** Seed: aliyun-ess-DetachAlbServerGroups.md. ScalingActivityId only with ForceDetach. */
  private detachAlbServerGroups(params: Record<string, string>): Record<string, unknown> {
    requireParam(params, 'RegionId');
    const force = bool(params, 'ForceDetach', false);
    const listed = objectList(params, 'AlbServerGroup', 5);
    if (listed.length === 0) requireParam(params, 'AlbServerGroup.1.AlbServerGroupId');
    const wanted = listed.map(({ index, fields }) => ({
      albServerGroupId: requireParam(fields, 'AlbServerGroupId', `AlbServerGroup.${index}.`),
      port: port(fields.Port, `AlbServerGroup.${index}.Port`),
    }));
    const group = this.requireGroup(params);
    const attached = (w: { albServerGroupId: string; port: number }) =>
      group.albServerGroups.some((g) => g.albServerGroupId === w.albServerGroupId && g.port === w.port);
    if (!wanted.every(attached)) {
      throw err(
        400,
        'AlbServerGroup.NotAttached',
        'The ALB ServerGroups are not attached to specific ScalingGroup.',
      );
    }
    const detach = () => {
      group.albServerGroups = group.albServerGroups.filter(
        (g) => !wanted.some((w) => w.albServerGroupId === g.albServerGroupId && w.port === g.port),
      );
    };
    const now = this.now();
    if (!force) {
      this.state.later(group, now, detach);
      return {};
    }
    if (this.state.activityInProgress(group.scalingGroupId, now)) {
      throw err(
        400,
        'ScalingActivityInProgress',
        'You cannot delete a scaling group or launch a new scaling activity while there is a scaling activity in progress for the specified scaling group.',
      );
    }
    const members = this.state.membersOf(group.scalingGroupId).map((i) => i.instanceId);
    const activity = this.state.startActivity(group, 'DetachAlbServerGroups', [], now, {
      decreaseDesiredCapacity: false,
      onSuccess: () => {
        detach();
        for (const w of wanted)
          for (const id of members) this.state.backends.get(w.albServerGroupId)?.delete(id);
      },
    });
    return { ScalingActivityId: activity.id };
  }

  private describeScalingActivities(params: Record<string, string>): Record<string, unknown> {
    if (!params.RegionId)
      throw err(
        400,
        'MissingParameter',
        'The input parameter "RegionId" that is mandatory for processing this request is not supplied.',
      );
    const ids = listParam(params, 'ScalingActivityId', 20);
    if (ids.length === 0 && !params.ScalingGroupId) {
      throw err(400, 'MissingParameter', 'One of ScalingGroupId and ScalingActivityId.N must be supplied.');
    }
    this.state.settle(this.now());
    // Read by id or by group, never by scanning every activity the emulator ever ran.
    const candidates =
      ids.length > 0
        ? [...new Set(ids)]
            .flatMap((id) => this.state.activities.get(id) ?? [])
            .sort((a, b) => a.startedAt - b.startedAt)
        : this.state.activitiesOf(params.ScalingGroupId as string);
    const activities = candidates.filter(
      (a) =>
        a.regionId === params.RegionId &&
        (!params.ScalingGroupId || a.scalingGroupId === params.ScalingGroupId) &&
        (!params.StatusCode || statusOf(a) === params.StatusCode),
    );
    const { page, total } = paginate(activities, params, 50);
    return {
      TotalCount: total,
      PageNumber: Number(params.PageNumber ?? 1),
      PageSize: Number(params.PageSize ?? 10),
      ScalingActivities: page.map((a) => this.activityView(a)),
    };
  }

  /** One activity in the 2022-02-22 shape (answerIn wraps its lists for 2014-08-28). */
  private activityView(a: Activity): Record<string, unknown> {
    const status = statusOf(a);
    const now = this.now();
    const progress = a.settled
      ? 100
      : Math.min(99, Math.floor(((now - a.startedAt) / Math.max(1, a.endsAt - a.startedAt)) * 100));
    const members = this.state.membersOf(a.scalingGroupId);
    const failed = status === 'Failed' || status === 'Rejected';
    const errorCode = failed ? `Activity${status}` : '';
    return {
      ScalingActivityId: a.id,
      ScalingGroupId: a.scalingGroupId,
      StatusCode: status,
      StatusMessage:
        a.outcome.message ??
        (status === 'InProgress'
          ? ''
          : status === 'Successful'
            ? `"${a.instanceIds.length}" ECS instances are detached.`
            : `The activity ended ${status}.`),
      Progress: progress,
      StartTime: minute(a.startedAt),
      // ESS answers an EndTime while an activity runs too (docs/reference/aliyun-ess.md §6): when it is due.
      EndTime: minute(a.endsAt),
      Cause: `A user requests to execute scaling activity: ${a.action}.`,
      Description: a.description,
      Detail: a.outcome.message ?? '',
      // The API types these three capacities as strings, the counts below as integers.
      TotalCapacity: String(members.length),
      AttachedCapacity: String(members.filter((m) => m.creationType === 'Attached').length),
      AutoCreatedCapacity: String(members.filter((m) => m.creationType === 'AutoCreated').length),
      ScalingInstanceNumber: a.instanceIds.length,
      CreatedCapacity: 0,
      DestroyedCapacity: a.destroyed.length,
      StartedCapacity: 0,
      StoppedCapacity: a.stopped.length,
      ErrorCode: errorCode,
      ErrorMessage: failed ? (a.outcome.message ?? '') : '',
      ErrorMessages: failed
        ? [
            {
              Code: errorCode,
              Message: a.outcome.message ?? `The activity ended ${status}.`,
              Description: a.outcome.message ?? '',
              FailedInstanceIds: a.instanceIds,
            },
          ]
        : [],
      CreatedInstances: [],
      DestroyedInstances: a.destroyed,
      StartedInstances: [],
      StoppedInstances: a.stopped,
      TriggerSourceId: a.scalingGroupId,
      ActivityMetadata: '',
      TriggerSourceType: 'APIs',
      InstanceRefreshTaskId: '',
      LifecycleHookContext: { DisableLifecycleHook: false, IgnoredLifecycleHookIds: [] },
    };
  }

  private describeScalingGroups(params: Record<string, string>): Record<string, unknown> {
    if (!params.RegionId)
      throw err(
        400,
        'MissingParameter',
        'The input parameter "RegionId" that is mandatory for processing this request is not supplied.',
      );
    const ids = listParam(params, 'ScalingGroupId', 20);
    this.state.settle(this.now());
    const groups = [...this.state.groups.values()].filter(
      (g) =>
        g.regionId === params.RegionId &&
        (ids.length === 0 || ids.includes(g.scalingGroupId)) &&
        // ESS leaves out groups that are not active (docs/reference/aliyun-ess.md §5).
        g.lifecycleState === 'Active',
    );
    const { page, total } = paginate(groups, params, 50);
    return {
      TotalCount: total,
      PageNumber: Number(params.PageNumber ?? 1),
      PageSize: Number(params.PageSize ?? 10),
      ScalingGroups: page.map((g) => this.groupView(g)),
    };
  }

  /** One group in the 2022-02-22 shape: every field of the SDK's model, from the seed where a user sets it. */
  private groupView(g: Group): Record<string, unknown> {
    const members = this.state.membersOf(g.scalingGroupId);
    const count = (state: string) => members.filter((m) => m.lifecycleState === state).length;
    return {
      ScalingGroupId: g.scalingGroupId,
      ScalingGroupName: g.scalingGroupName ?? g.scalingGroupId,
      RegionId: g.regionId,
      LifecycleState: g.lifecycleState,
      MinSize: g.minSize,
      MaxSize: g.maxSize,
      DesiredCapacity: g.desiredCapacity,
      EnableDesiredCapacity: true,
      InitCapacity: 0,
      TotalCapacity: members.length,
      TotalInstanceCount: members.length,
      ActiveCapacity: count('InService'),
      PendingCapacity: count('Pending'),
      PendingWaitCapacity: count('Pending:Wait'),
      RemovingCapacity: count('Removing'),
      RemovingWaitCapacity: count('Removing:Wait'),
      ProtectedCapacity: count('Protected'),
      StandbyCapacity: count('Standby'),
      StoppedCapacity: count('Stopped'),
      SpotCapacity: members.filter((m) => m.spotStrategy !== 'NoSpot').length,
      ActiveScalingConfigurationId: g.activeScalingConfigurationId,
      LaunchTemplateId: g.launchTemplateId,
      LaunchTemplateVersion: g.launchTemplateVersion,
      LaunchTemplateOverrides: [],
      ScalingPolicy: g.scalingPolicy,
      RemovalPolicies: g.removalPolicies,
      CustomPolicyARN: '',
      GroupType: 'ECS',
      DefaultCooldown: g.defaultCooldown,
      SystemSuspended: false,
      SuspendedProcesses: [],
      IsElasticStrengthInAlarm: false,
      CreationTime: minute(g.createdAt),
      ModificationTime: minute(g.createdAt),
      VpcId: g.vpcId,
      VSwitchId: g.vSwitchIds[0] ?? '',
      VSwitchIds: g.vSwitchIds,
      MultiAZPolicy: g.multiAZPolicy,
      AzBalance: false,
      AutoRebalance: false,
      BalanceMode: 'BALANCE',
      AllocationStrategy: 'priority',
      SpotAllocationStrategy: 'default',
      SpotInstancePools: 0,
      SpotInstanceRemedy: false,
      CompensateWithOnDemand: false,
      OnDemandBaseCapacity: 0,
      OnDemandPercentageAboveBaseCapacity: 100,
      CapacityOptions: {
        CompensateWithOnDemand: false,
        OnDemandBaseCapacity: 0,
        OnDemandPercentageAboveBaseCapacity: 100,
        PriceComparisonMode: 'PricePerUnit',
        SpotAutoReplaceOnDemand: false,
      },
      HealthCheckType: g.healthCheckTypes[0] ?? 'NONE',
      HealthCheckTypes: g.healthCheckTypes,
      GroupDeletionProtection: g.groupDeletionProtection,
      MaxInstanceLifetime: 0,
      StopInstanceTimeout: 0,
      CurrentHostName: '',
      MonitorGroupId: '',
      ResourceGroupId: g.resourceGroupId,
      Tags: g.tags.map((t) => ({ TagKey: t.key, TagValue: t.value, Propagate: t.propagate })),
      LoadBalancerIds: g.loadBalancers.map((lb) => lb.id),
      LoadBalancerConfigs: g.loadBalancers.map((lb) => ({ LoadBalancerId: lb.id, Weight: 50 })),
      VServerGroups: [...new Set(g.vServerGroups.map((v) => v.loadBalancerId))].map((loadBalancerId) => ({
        LoadBalancerId: loadBalancerId,
        VServerGroupAttributes: g.vServerGroups
          .filter((v) => v.loadBalancerId === loadBalancerId)
          .map((v) => ({ VServerGroupId: v.vServerGroupId, Port: v.port, Weight: 50 })),
      })),
      AlbServerGroups: g.albServerGroups.map((a) => ({
        AlbServerGroupId: a.albServerGroupId,
        Port: a.port,
        Weight: 100,
      })),
      ServerGroups: g.albServerGroups.map((a) => ({
        ServerGroupId: a.albServerGroupId,
        Port: a.port,
        Type: 'ALB',
        Weight: 100,
      })),
      DBInstanceIds: g.dbInstances.map((db) => db.id),
      DBInstances: g.dbInstances.map((db) => ({ DBInstanceId: db.id, SecurityGroupIds: [], Type: 'RDS' })),
    };
  }

  private describeScalingInstances(params: Record<string, string>): Record<string, unknown> {
    if (!params.RegionId)
      throw err(
        400,
        'MissingParameter',
        'The input parameter "RegionId" that is mandatory for processing this request is not supplied.',
      );
    const ids = listParam(params, 'InstanceId', 20);
    this.state.settle(this.now());
    const instances = [...this.state.instances.values()].filter((i) => {
      if (!i.scalingGroupId) return false;
      const group = this.state.groups.get(i.scalingGroupId);
      return (
        group?.regionId === params.RegionId &&
        (!params.ScalingGroupId || i.scalingGroupId === params.ScalingGroupId) &&
        (ids.length === 0 || ids.includes(i.instanceId))
      );
    });
    const { page, total } = paginate(instances, params, 100);
    return {
      TotalCount: total,
      TotalSpotCount: instances.filter((i) => i.spotStrategy !== 'NoSpot').length,
      PageNumber: Number(params.PageNumber ?? 1),
      PageSize: Number(params.PageSize ?? 10),
      ScalingInstances: page.map((i) => {
        const group = this.state.groups.get(i.scalingGroupId as string) as Group;
        const running = this.state
          .activitiesOf(group.scalingGroupId)
          .find((a) => !a.settled && a.instanceIds.includes(i.instanceId));
        return {
          InstanceId: i.instanceId,
          ScalingInstanceId: i.instanceId,
          ScalingGroupId: i.scalingGroupId,
          LifecycleState: i.lifecycleState,
          HealthStatus: 'Healthy',
          CreationType: i.creationType,
          Entrusted: i.entrusted,
          ScalingConfigurationId: group.activeScalingConfigurationId,
          LaunchTemplateId: group.launchTemplateId,
          LaunchTemplateVersion: group.launchTemplateVersion,
          ScalingActivityId: running?.id ?? '',
          ZoneId: i.zoneId ?? `${group.regionId}-a`,
          PrivateIpAddress: i.privateIpAddress ?? privateIpOf(i.instanceId),
          WeightedCapacity: i.weightedCapacity,
          LoadBalancerWeight: i.loadBalancerWeight,
          SpotStrategy: i.spotStrategy,
          WarmupState: 'NoNeedWarmup',
          ReplaceStatus: 'None',
          CreationTime: minute(i.addedAt),
          CreatedTime: `${new Date(i.addedAt).toISOString().slice(0, 19)}Z`,
        };
      }),
    };
  }
}

/** A stable 172.16.0.0/12 address for an instance the seed gave none. */
function privateIpOf(instanceId: string): string {
  const hash = createHash('sha256').update(instanceId).digest();
  return `172.${16 + ((hash[0] as number) % 16)}.${hash[1]}.${1 + ((hash[2] as number) % 254)}`;
}

function statusOf(a: Activity): string {
  return a.settled ? a.outcome.status : 'InProgress';
}

function paginate<T>(
  items: T[],
  params: Record<string, string>,
  maxSize: number,
): { page: T[]; total: number } {
  const number = Number(params.PageNumber ?? 1);
  const size = Number(params.PageSize ?? 10);
  if (!Number.isInteger(number) || number < 1)
    throw err(400, 'InvalidParameter', 'The specified parameter "PageNumber" is not valid.');
  if (!Number.isInteger(size) || size < 1 || size > maxSize)
    throw err(400, 'InvalidParameter', 'The specified parameter "PageSize" is not valid.');
  return { page: items.slice((number - 1) * size, number * size), total: items.length };
}

/** What makes two calls "the same request" for ClientToken: every operation parameter, none of the signing ones. */
function fingerprintOf(params: Record<string, string>): string {
  const ignored = new Set([
    'Signature',
    'SignatureNonce',
    'Timestamp',
    'AccessKeyId',
    'SignatureMethod',
    'SignatureVersion',
    'Format',
    'SecurityToken',
  ]);
  const relevant = Object.keys(params)
    .filter((k) => !ignored.has(k))
    .sort()
    .map((k) => `${k}=${params[k]}`)
    .join('&');
  return createHash('sha256').update(relevant).digest('hex');
}
