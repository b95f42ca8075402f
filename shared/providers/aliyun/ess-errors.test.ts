import { describe, expect, it } from 'vitest';
import { classifyEssError, ESS_ERROR_KINDS } from './ess-errors.ts';

describe('classifyEssError', () => {
  it.each([
    ['ScalingActivityInProgress', 400, 'busy'],
    ['IncorrectLoadBalancerStatus', 400, 'busy'],
    ['IncorrectDBInstanceStatus', 400, 'busy'],
    ['IncorrectScalingGroupStatus', 400, 'fatal'],
    ['IncorrectCapacity.MinSize', 400, 'fatal'],
    ['Forbidden.Unauthorized', 403, 'fatal'],
    ['InvalidScalingGroupId.NotFound', 404, 'fatal'],
    ['InvalidInstanceId.NotFound', 404, 'fatal'],
    ['Throttling', 400, 'throttled'],
    ['Throttling.User', 400, 'throttled'],
    ['Throttling.SomethingNew', 400, 'throttled'],
    ['ServiceUnavailable', 503, 'transient'],
    ['InternalError', 500, 'transient'],
    ['SignatureNonceUsed', 400, 'transient'],
    ['SignatureDoesNotMatch', 400, 'fatal'],
    ['InvalidTimeStamp.Expired', 400, 'fatal'],
    ['InvalidAccessKeyId.NotFound', 404, 'fatal'],
    ['SomeUnknownServerFault', 502, 'transient'],
    ['SomeUnknownClientFault', 400, 'fatal'],
  ] as const)('%s (HTTP %i) is %s', (code, status, kind) => {
    expect(classifyEssError(code, status)).toBe(kind);
  });

  it('classifies by code whatever the status the docs give', () => {
    for (const [code, kind] of Object.entries(ESS_ERROR_KINDS)) {
      expect(classifyEssError(code, 400)).toBe(kind);
      expect(classifyEssError(code, 503)).toBe(kind);
    }
  });
});
