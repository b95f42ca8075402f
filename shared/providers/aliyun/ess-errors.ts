import { DetachError, type ErrorKind } from '../../errors.ts';
import { scrubCloudMessage } from '../scrub-cloud-message.ts';

/**
 * Every ESS error code we know, in one table: the seeds' codes for the detach actions, then the common
 * gateway codes from docs/reference/aliyun-ess.md §7. Classify by Code, never by HTTP status: the docs disagree on them.
 */
export const ESS_ERROR_KINDS: Readonly<Record<string, ErrorKind>> = {
  // Seeds (DetachInstances, RemoveInstances, DetachVServerGroups, DetachAlbServerGroups)
  ScalingActivityInProgress: 'busy',
  // A load balancer or database attached to the group is mid-change; that passes like an activity does.
  IncorrectLoadBalancerStatus: 'busy',
  IncorrectDBInstanceStatus: 'busy',
  // A disabled group stays disabled until a person enables it: waiting would only delay the Failed event.
  IncorrectScalingGroupStatus: 'fatal',
  'IncorrectCapacity.MinSize': 'fatal',
  'Forbidden.Unauthorized': 'fatal',
  'InvalidScalingGroupId.NotFound': 'fatal',
  'InvalidInstanceId.NotFound': 'fatal',
  InvalidParameter: 'fatal',
  'AlbServerGroup.NotAttached': 'fatal',
  // Common
  'InvalidOperation.Conflict': 'busy',
  Throttling: 'throttled',
  'Throttling.User': 'throttled',
  'Throttling.Api': 'throttled',
  'Rejected.Throttling': 'throttled',
  ServiceUnavailable: 'transient',
  InternalError: 'transient',
  // Every attempt signs with a fresh nonce, so the next one cannot collide again.
  SignatureNonceUsed: 'transient',
  'InvalidTimeStamp.Expired': 'fatal',
  'InvalidTimeStamp.Format': 'fatal',
  SignatureDoesNotMatch: 'fatal',
  IncompleteSignature: 'fatal',
  'InvalidAccessKeyId.NotFound': 'fatal',
  'InvalidAccessKeyId.Inactive': 'fatal',
  MissingParameter: 'fatal',
  Forbidden: 'fatal',
  'Forbidden.RAM': 'fatal',
  'Forbidden.Unsubscribed': 'fatal',
  'Forbidden.RiskControl': 'fatal',
  IdempotentParameterMismatch: 'fatal',
  IncorrectInstanceStatus: 'fatal',
  // Temporary credentials (an assumed role) the gateway refused before the service saw the call: it did not act.
  // Throttled with `refreshCredentials` (shared/errors.ts): the client refreshes them once and repeats.
  'InvalidSecurityToken.Expired': 'throttled',
  'InvalidSecurityToken.MismatchWithAccessKey': 'throttled',
  'InvalidSecurityToken.Malformed': 'throttled',
  MissingSecurityToken: 'throttled',
  // STS AssumeRole (2015-04-01): a role that cannot be assumed stays so until a person changes it.
  'EntityNotExist.Role': 'fatal',
  NoPermission: 'fatal',
  'InvalidParameter.RoleArn': 'fatal',
  'InvalidParameter.RoleSessionName': 'fatal',
  'InvalidParameter.DurationSeconds': 'fatal',
  'InvalidParameter.ExternalId': 'fatal',
  'InvalidParameter.PolicyGrammar': 'fatal',
};

/** The codes that mean "these temporary credentials were refused": refresh once and repeat, the call did not act. */
export const ESS_CREDENTIALS_REFUSED: ReadonlySet<string> = new Set([
  'InvalidSecurityToken.Expired',
  'InvalidSecurityToken.MismatchWithAccessKey',
  'InvalidSecurityToken.Malformed',
  'MissingSecurityToken',
]);

export function classifyEssError(code: string, httpStatus: number): ErrorKind {
  const known = ESS_ERROR_KINDS[code];
  if (known) return known;
  if (code.startsWith('Throttling')) return 'throttled';
  return httpStatus >= 500 ? 'transient' : 'fatal';
}

export const essError = (
  code: string,
  message: string,
  httpStatus: number,
  cloudRequestId?: string,
): DetachError =>
  new DetachError(code, scrubCloudMessage(message), classifyEssError(code, httpStatus), {
    httpStatus,
    ...(cloudRequestId && { cloudRequestId }),
    ...(ESS_CREDENTIALS_REFUSED.has(code) && { refreshCredentials: true }),
  });
