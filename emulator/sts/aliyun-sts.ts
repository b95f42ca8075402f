import { randomUUID } from 'node:crypto';
import { aliyunRpcSignature, aliyunRpcStringToSign, sameSecret } from '../signatures.ts';
import type { StsAnswer, StsContext } from './sts-emulator.ts';

type Headers = Record<string, string | string[] | undefined>;

const VERSION = '2015-04-01';
const SKEW_MS = 15 * 60 * 1000;
const TIMESTAMP = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/;
const COMMON_REQUIRED = [
  'AccessKeyId',
  'Signature',
  'SignatureMethod',
  'SignatureVersion',
  'SignatureNonce',
  'Timestamp',
];
const ROLE_ARN = /^acs:ram::\d+:role\/[A-Za-z0-9._-]+$/i;
const SESSION_NAME = /^[A-Za-z0-9.@_-]{2,64}$/;

/** Alibaba STS calls: RPC `Action=AssumeRole&Version=2015-04-01`, or the same action in V3 headers. */
export const isAliyunStsRequest = (headers: Headers, params: Record<string, string>): boolean =>
  (params.Action === 'AssumeRole' && params.Version === VERSION) ||
  (headers['x-acs-action'] === 'AssumeRole' && headers['x-acs-version'] === VERSION);

class StsError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}
const missing = (name: string) =>
  new StsError(
    400,
    'MissingParameter',
    `The input parameter "${name}" that is mandatory for processing this request is not supplied.`,
  );

/**
 * Alibaba Cloud STS AssumeRole (2015-04-01), RPC signature 1.0 as @alicloud/credentials' RAM role ARN provider
 * sends it (the common parameters in the query, the operation's in the form; both signed). Answers as STS does:
 * `{RequestId, AssumedRoleUser, Credentials: {AccessKeyId, AccessKeySecret, SecurityToken, Expiration}}`, errors
 * `{RequestId, HostId, Code, Message}` with the HTTP status.
 */
export function aliyunAssumeRole(
  request: { method: string; headers: Headers; params: Record<string, string> },
  context: StsContext,
): StsAnswer {
  const requestId = randomUUID().toUpperCase();
  try {
    if (request.params.Signature === undefined) {
      throw new StsError(
        400,
        'IncompleteSignature',
        'The emulator serves STS with the RPC signature (1.0) only.',
      );
    }
    const principal = authenticate(request.method, request.params, context);
    return { status: 200, body: { RequestId: requestId, ...assume(request.params, principal, context) } };
  } catch (error) {
    if (!(error instanceof StsError)) throw error;
    return {
      status: error.status,
      body: { RequestId: requestId, HostId: 'sts.aliyuncs.com', Code: error.code, Message: error.message },
    };
  }
}

function authenticate(method: string, params: Record<string, string>, context: StsContext): string {
  for (const name of COMMON_REQUIRED) if (!params[name]) throw missing(name);
  const accessKeyId = params.AccessKeyId as string;
  const secret = context.secretOf(accessKeyId);
  if (!secret) throw new StsError(404, 'InvalidAccessKeyId.NotFound', 'Specified access key is not found.');
  if (params.SignatureMethod !== 'HMAC-SHA1' || params.SignatureVersion !== '1.0')
    throw new StsError(
      400,
      'IncompleteSignature',
      'The request signature does not conform to Aliyun standards.',
    );
  const timestamp = params.Timestamp as string;
  if (!TIMESTAMP.test(timestamp) || Number.isNaN(Date.parse(timestamp)))
    throw new StsError(
      400,
      'InvalidTimeStamp.Format',
      'Specified time stamp or date value is not well formatted.',
    );
  if (Math.abs(Date.now() - Date.parse(timestamp)) > SKEW_MS)
    throw new StsError(400, 'InvalidTimeStamp.Expired', 'Specified time stamp or date value is expired.');
  if (!sameSecret(aliyunRpcSignature(method, params, secret), params.Signature as string)) {
    // As the service does (and @alicloud/credentials reads it to tell a wrong secret from a signing bug).
    throw new StsError(
      400,
      'SignatureDoesNotMatch',
      `Specified signature is not matched with our calculation. server string to sign is:${aliyunRpcStringToSign(method, params)}`,
    );
  }
  const refusal = context.refusal('aliyun', accessKeyId, params.SecurityToken);
  if (refusal) throw new StsError(refusal.httpStatus, refusal.code, refusal.message);
  return accessKeyId;
}

function assume(
  params: Record<string, string>,
  principal: string,
  context: StsContext,
): Record<string, unknown> {
  const roleArn = params.RoleArn;
  if (!roleArn) throw missing('RoleArn');
  const sessionName = params.RoleSessionName;
  if (!sessionName) throw missing('RoleSessionName');
  if (!ROLE_ARN.test(roleArn))
    throw new StsError(400, 'InvalidParameter.RoleArn', 'The parameter RoleArn is wrongly formed.');
  if (!SESSION_NAME.test(sessionName))
    throw new StsError(
      400,
      'InvalidParameter.RoleSessionName',
      'The parameter RoleSessionName is wrongly formed.',
    );
  // RAM checks the caller's own policy first: without sts:AssumeRole on the role it learns nothing of the role.
  const denied = context.denial('aliyun', principal, roleArn);
  if (denied) throw new StsError(403, 'NoPermission', denied);
  const role = context.role('aliyun', roleArn);
  if (!role) throw new StsError(404, 'EntityNotExist.Role', 'The specified Role not exists .');
  const maxSeconds = role.maxSessionDurationSeconds ?? 3600;
  const asked = params.DurationSeconds === undefined ? 3600 : Number(params.DurationSeconds);
  if (!Number.isInteger(asked) || asked < 900 || asked > maxSeconds)
    throw new StsError(
      400,
      'InvalidParameter.DurationSeconds',
      `The Min/Max value of DurationSeconds is 15min/${maxSeconds}s.`,
    );
  if (!context.trusts(role, principal, params.ExternalId))
    throw new StsError(
      403,
      'NoPermission',
      'No permission perform sts:AssumeRole on this Role. Maybe you are not in the trust policy of this role, or the ExternalId does not match.',
    );
  const issued = context.issue({
    cloud: 'aliyun',
    roleArn,
    sessionName,
    expiresAt: context.now() + context.lifetime(asked) * 1000,
  });
  const uid = /^acs:ram::(\d+):/.exec(roleArn)?.[1] ?? '0';
  return {
    AssumedRoleUser: {
      Arn: `${roleArn.replace(':role/', ':assumed-role/')}/${sessionName}`,
      AssumedRoleId: `${uid}${randomUUID().slice(0, 6)}:${sessionName}`,
    },
    Credentials: {
      AccessKeyId: issued.accessKeyId,
      AccessKeySecret: issued.secret,
      SecurityToken: issued.token,
      Expiration: `${new Date(issued.expiresAt).toISOString().slice(0, 19)}Z`,
    },
  };
}
