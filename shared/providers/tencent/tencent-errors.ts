import { DetachError, type ErrorKind } from '../../errors.ts';
import { scrubCloudMessage } from '../scrub-cloud-message.ts';

/** API 3.0 error codes (docs/reference/tencent-as.md §B5), by exact code; prefixes below catch the families. */
export const TENCENT_API3_ERROR_KINDS: Readonly<Record<string, ErrorKind>> = {
  RequestLimitExceeded: 'throttled',
  'RequestLimitExceeded.UinLimitExceeded': 'throttled',
  'RequestLimitExceeded.IPLimitExceeded': 'throttled',
  'RequestLimitExceeded.GlobalRegionUinLimitExceeded': 'throttled',
  InternalError: 'transient',
  'ResourceUnavailable.AutoScalingGroupInActivity': 'busy',
  'ResourceInUse.ActivityInProgress': 'busy',
  'ResourceUnavailable.InstanceInOperation': 'busy',
  'ResourceUnavailable.LoadBalancerInOperation': 'busy',
  // The clock is off by more than 5 minutes: retrying with the same clock cannot help.
  'AuthFailure.SignatureExpire': 'fatal',
  'AuthFailure.SignatureFailure': 'fatal',
  'AuthFailure.SecretIdNotFound': 'fatal',
  'AuthFailure.InvalidSecretId': 'fatal',
  // Temporary credentials (an assumed role) refused: expired, or not the token of this SecretId. The call did not
  // act; throttled with `refreshCredentials` (shared/errors.ts): the client refreshes them once and repeats.
  'AuthFailure.TokenFailure': 'throttled',
  'AuthFailure.UnauthorizedOperation': 'fatal',
  'ResourceNotFound.AutoScalingGroupNotFound': 'fatal',
  'ResourceNotFound.InstancesNotInAutoScalingGroup': 'fatal',
  'InvalidParameterValue.InvalidAutoScalingGroupId': 'fatal',
  'InvalidParameterValue.InvalidInstanceId': 'fatal',
  'InvalidParameterValue.LimitExceeded': 'fatal',
  'InvalidParameter.ActionNotFound': 'fatal',
  'ResourceInsufficient.AutoScalingGroupBelowMinSize': 'fatal',
  'ResourceInsufficient.InServiceInstanceBelowMinSize': 'fatal',
  'ResourceUnavailable.AutoScalingGroupDisabled': 'fatal',
  'ResourceInUse.AutoScalingGroupNotActive': 'fatal',
  'FailedOperation.NoActivityToGenerate': 'fatal',
  LimitExceeded: 'fatal',
  // STS AssumeRole (2018-08-13): a role that cannot be assumed stays so until a person changes it.
  'ResourceNotFound.RoleNotExist': 'fatal',
  'InvalidParameter.ParamError': 'fatal',
  'InvalidParameter.AccountNotAvaliable': 'fatal',
  'InternalError.GetRoleError': 'transient',
};

/** The codes that mean "these temporary credentials were refused": refresh once and repeat, the call did not act. */
export const TENCENT_CREDENTIALS_REFUSED: ReadonlySet<string> = new Set(['AuthFailure.TokenFailure']);

export function classifyTencentError(code: string, httpStatus: number): ErrorKind {
  const known = TENCENT_API3_ERROR_KINDS[code];
  if (known) return known;
  if (code.startsWith('RequestLimitExceeded')) return 'throttled';
  if (code.startsWith('InternalError')) return 'transient';
  return httpStatus >= 500 ? 'transient' : 'fatal';
}

/** Legacy v2 `code` values (docs/reference/tencent-as.md §A5). */
export const TENCENT_V2_CODE_KINDS: Readonly<Record<number, ErrorKind>> = {
  4000: 'fatal',
  4100: 'fatal',
  4101: 'fatal',
  4102: 'fatal',
  4103: 'fatal',
  4104: 'fatal',
  4110: 'fatal',
  4300: 'fatal',
  // Expired, or a nonce or timestamp the server saw as a replay: the next attempt re-signs with fresh ones.
  4200: 'transient',
  4500: 'transient',
  4400: 'throttled',
  5000: 'fatal',
  5400: 'fatal',
  6000: 'transient',
  6100: 'fatal',
  6200: 'busy',
};

/** v2 `codeDesc` values, more precise than `code` where present (the seed's two, and the group-busy ones). */
export const TENCENT_V2_CODEDESC_KINDS: Readonly<Record<string, ErrorKind>> = {
  'InvalidParameter.ScalingGroupIdError': 'fatal',
  'InvalidParameter.InstanceIdError': 'fatal',
  'AuthFailure.TokenFailure': 'throttled',
};

/**
 * 5100 "operation failed" is busy only when its module code says the group is in an activity or cooling down, or
 * the instance is in an operation (40006, "not in service": being detached, by our own earlier call too), as API
 * 3.0's ResourceUnavailable.InstanceInOperation is. Fatal there, a repeat of a call that acted would end Failed.
 */
const V2_BUSY_MODULE_CODES = /\((40000|40001|40006)\)/;

export function classifyTencentV2Error(code: number, codeDesc: string, message: string): ErrorKind {
  const byDesc = TENCENT_V2_CODEDESC_KINDS[codeDesc];
  if (byDesc) return byDesc;
  if (code === 5100) return V2_BUSY_MODULE_CODES.test(message) ? 'busy' : 'fatal';
  return TENCENT_V2_CODE_KINDS[code] ?? (code >= 6000 ? 'transient' : 'fatal');
}

export const tencentError = (code: string, message: string, httpStatus: number, requestId?: string) =>
  new DetachError(code, scrubCloudMessage(message), classifyTencentError(code, httpStatus), {
    httpStatus,
    ...(requestId && { cloudRequestId: requestId }),
    ...(TENCENT_CREDENTIALS_REFUSED.has(code) && { refreshCredentials: true }),
  });

export const tencentV2Error = (code: number, codeDesc: string, message: string) =>
  new DetachError(
    codeDesc || `V2.${code}`,
    message ? scrubCloudMessage(message) : `Tencent v2 answered code ${code}`,
    classifyTencentV2Error(code, codeDesc, message),
    TENCENT_CREDENTIALS_REFUSED.has(codeDesc) ? { refreshCredentials: true } : {},
  );
