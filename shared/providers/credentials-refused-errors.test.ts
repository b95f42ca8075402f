import { describe, expect, it } from 'vitest';
import { isCredentialsRefused } from '../errors.ts';
import { essError } from './aliyun/ess-errors.ts';
import { tencentError, tencentV2Error } from './tencent/tencent-errors.ts';

describe('refused temporary credentials in the error tables', () => {
  it.each([
    ['InvalidSecurityToken.Expired', 400],
    ['InvalidSecurityToken.MismatchWithAccessKey', 400],
    ['InvalidSecurityToken.Malformed', 400],
    ['MissingSecurityToken', 400],
  ])('ESS %s: throttled (did not act) and flagged refreshCredentials', (code, status) => {
    const error = essError(code, 'refused', status);
    expect(error.kind).toBe('throttled');
    expect(isCredentialsRefused(error)).toBe(true);
    // The flag stays in the process: the stored error and the event keep their shape.
    expect(Object.keys(error.toJSON()).sort()).toEqual(['code', 'httpStatus', 'kind', 'message']);
  });

  it('Tencent AuthFailure.TokenFailure (API 3.0 and v2 codeDesc): throttled and flagged', () => {
    for (const error of [
      tencentError('AuthFailure.TokenFailure', 'token', 200),
      tencentV2Error(4100, 'AuthFailure.TokenFailure', 'token'),
    ]) {
      expect(error.kind).toBe('throttled');
      expect(isCredentialsRefused(error)).toBe(true);
    }
  });

  it.each([
    ['EntityNotExist.Role', 404],
    ['NoPermission', 403],
    ['InvalidParameter.RoleArn', 400],
    ['InvalidAccessKeyId.NotFound', 404],
    ['SignatureDoesNotMatch', 400],
  ])('ESS/STS %s: fatal, not a token refusal', (code, status) => {
    const error = essError(code, 'no', status);
    expect(error.kind).toBe('fatal');
    expect(isCredentialsRefused(error)).toBe(false);
  });

  it.each([
    'ResourceNotFound.RoleNotExist',
    'AuthFailure.UnauthorizedOperation',
    'AuthFailure.SecretIdNotFound',
  ])('Tencent %s: fatal, not a token refusal', (code) => {
    const error = tencentError(code, 'no', 200);
    expect(error.kind).toBe('fatal');
    expect(isCredentialsRefused(error)).toBe(false);
  });
});
