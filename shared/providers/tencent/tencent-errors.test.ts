import { describe, expect, it } from 'vitest';
import { classifyTencentError, classifyTencentV2Error } from './tencent-errors.ts';

describe('classifyTencentError (API 3.0)', () => {
  it.each([
    ['RequestLimitExceeded', 'throttled'],
    ['RequestLimitExceeded.UinLimitExceeded', 'throttled'],
    ['RequestLimitExceeded.SomethingNew', 'throttled'],
    ['InternalError', 'transient'],
    ['InternalError.CallCvmError', 'transient'],
    ['ResourceUnavailable.AutoScalingGroupInActivity', 'busy'],
    ['ResourceInUse.ActivityInProgress', 'busy'],
    ['AuthFailure.SignatureExpire', 'fatal'],
    ['AuthFailure.SignatureFailure', 'fatal'],
    ['ResourceNotFound.AutoScalingGroupNotFound', 'fatal'],
    ['ResourceInsufficient.AutoScalingGroupBelowMinSize', 'fatal'],
    ['ResourceNotFound.InstancesNotInAutoScalingGroup', 'fatal'],
    ['SomethingUnknown', 'fatal'],
  ] as const)('%s is %s', (code, kind) => {
    expect(classifyTencentError(code, 200)).toBe(kind);
  });
});

describe('classifyTencentV2Error (legacy v2)', () => {
  it.each([
    [5100, 'InvalidParameter.ScalingGroupIdError', '(100004) Incorrect scalingGroupId', 'fatal'],
    [5100, 'InvalidParameter.InstanceIdError', '(100005) Incorrect instanceId', 'fatal'],
    [5100, 'ScalingGroupInActivity', '(40000) in activity', 'busy'],
    [5100, '', '(40001) cooling down', 'busy'],
    [5100, 'InstanceInOperation', '(40006) The instance ins-1 is not in service.', 'busy'],
    [5100, '', '(10001) config error', 'fatal'],
    [4400, '', 'rate limited', 'throttled'],
    [4500, '', 'replay', 'transient'],
    [6000, '', 'internal', 'transient'],
    [4100, '', 'signature', 'fatal'],
    [5000, '', 'not found', 'fatal'],
  ] as const)('%i %s %s is %s', (code, codeDesc, message, kind) => {
    expect(classifyTencentV2Error(code, codeDesc, message)).toBe(kind);
  });
});
