import { randomUUID } from 'node:crypto';
import { hostVariants, parseTc3Authorization, sameSecret, tencentTc3Signature } from '../signatures.ts';
import type { StsAnswer, StsContext } from './sts-emulator.ts';

type Headers = Record<string, string | string[] | undefined>;

const VERSION = '2018-08-13';
const SKEW_SECONDS = 300;
const ROLE_ARN = /^qcs::cam::uin\/\d+:(roleName\/[\w+=,.@-]+|role\/\d+)$/;
const SESSION_NAME = /^[\w+=,.@-]{2,128}$/;

const header = (headers: Headers, name: string) => {
  const value = headers[name];
  return Array.isArray(value) ? value[0] : value;
};

/** Tencent STS calls: `X-TC-Action: AssumeRole` with `X-TC-Version: 2018-08-13`. */
export const isTencentStsRequest = (headers: Headers): boolean =>
  header(headers, 'x-tc-action') === 'AssumeRole' && header(headers, 'x-tc-version') === VERSION;

class StsError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/**
 * Tencent Cloud STS AssumeRole (2018-08-13), TC3-HMAC-SHA256 over POST JSON as tencentcloud-sdk-nodejs sends it.
 * Answers `{"Response":{Credentials:{Token,TmpSecretId,TmpSecretKey},ExpiredTime,Expiration,RequestId}}`; errors,
 * as every API 3.0 error, with HTTP 200 and `Response.Error`.
 */
export function tencentAssumeRole(
  request: { method: string; headers: Headers; body: string },
  context: StsContext,
): StsAnswer {
  const RequestId = randomUUID();
  try {
    const principal = authenticate(request, context);
    return { status: 200, body: { Response: { ...assume(request.body, principal, context), RequestId } } };
  } catch (error) {
    if (!(error instanceof StsError)) throw error;
    return {
      status: 200,
      body: { Response: { Error: { Code: error.code, Message: error.message }, RequestId } },
    };
  }
}

function authenticate(
  request: { method: string; headers: Headers; body: string },
  context: StsContext,
): string {
  const { headers } = request;
  if (request.method.toUpperCase() !== 'POST')
    throw new StsError('InvalidParameter', 'The emulator serves STS over POST only.');
  const authorization = parseTc3Authorization(header(headers, 'authorization') ?? '');
  if (!authorization)
    throw new StsError(
      'AuthFailure.SignatureFailure',
      'The Authorization header is not a TC3-HMAC-SHA256 signature.',
    );
  const secretKey = context.secretOf(authorization.secretId);
  if (!secretKey) throw new StsError('AuthFailure.SecretIdNotFound', 'The SecretId is not found.');
  const timestamp = Number(header(headers, 'x-tc-timestamp'));
  if (!Number.isInteger(timestamp) || Math.abs(Date.now() / 1000 - timestamp) > SKEW_SECONDS)
    throw new StsError(
      'AuthFailure.SignatureExpire',
      'The signature expired: the timestamp is more than 5 minutes off.',
    );
  // The SDK signs the host without the port and takes the service from the endpoint (docs/reference/tencent-as.md §B8).
  const matches = hostVariants(header(headers, 'host') ?? '').some((host) =>
    sameSecret(
      tencentTc3Signature({
        method: 'POST',
        query: '',
        headers: Object.fromEntries(
          authorization.signedHeaders.map((name) => [
            name,
            name === 'host' ? host : (header(headers, name) ?? ''),
          ]),
        ),
        body: request.body,
        timestamp,
        service: authorization.service,
        secretKey,
      }),
      authorization.signature,
    ),
  );
  if (!matches) throw new StsError('AuthFailure.SignatureFailure', 'The signature does not match.');
  const refusal = context.refusal('tencent', authorization.secretId, header(headers, 'x-tc-token'));
  if (refusal) throw new StsError(refusal.code, refusal.message);
  return authorization.secretId;
}

function assume(body: string, principal: string, context: StsContext): Record<string, unknown> {
  let payload: Record<string, unknown>;
  try {
    payload = JSON.parse(body) as Record<string, unknown>;
  } catch {
    throw new StsError('InvalidParameter.ParamError', 'The request body is not JSON.');
  }
  const roleArn = payload.RoleArn;
  const sessionName = payload.RoleSessionName;
  if (typeof roleArn !== 'string' || !ROLE_ARN.test(roleArn))
    throw new StsError('InvalidParameter.ParamError', 'The parameter RoleArn is missing or wrongly formed.');
  if (typeof sessionName !== 'string' || !SESSION_NAME.test(sessionName))
    throw new StsError(
      'InvalidParameter.ParamError',
      'The parameter RoleSessionName is missing or wrongly formed.',
    );
  // CAM checks the caller's own policy first: without sts:AssumeRole on the role it learns nothing of the role.
  const denied = context.denial('tencent', principal, roleArn);
  if (denied) throw new StsError('AuthFailure.UnauthorizedOperation', denied);
  const role = context.role('tencent', roleArn);
  if (!role) throw new StsError('ResourceNotFound.RoleNotExist', 'The role does not exist.');
  const maxSeconds = role.maxSessionDurationSeconds ?? 43_200;
  const asked = payload.DurationSeconds === undefined ? 7200 : Number(payload.DurationSeconds);
  if (!Number.isInteger(asked) || asked < 1 || asked > maxSeconds)
    throw new StsError('InvalidParameter.OverTimeError', `DurationSeconds must be 1 to ${maxSeconds}.`);
  if (
    !context.trusts(role, principal, typeof payload.ExternalId === 'string' ? payload.ExternalId : undefined)
  )
    throw new StsError(
      'AuthFailure.UnauthorizedOperation',
      'you are not authorized to perform operation (sts:AssumeRole): the caller is not in the role’s trust policy, or the ExternalId does not match.',
    );
  const issued = context.issue({
    cloud: 'tencent',
    roleArn,
    sessionName,
    expiresAt: context.now() + context.lifetime(asked) * 1000,
  });
  return {
    Credentials: { Token: issued.token, TmpSecretId: issued.accessKeyId, TmpSecretKey: issued.secret },
    ExpiredTime: Math.floor(issued.expiresAt / 1000),
    Expiration: `${new Date(issued.expiresAt).toISOString().slice(0, 19)}Z`,
  };
}
