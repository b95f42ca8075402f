import { describe, expect, it } from 'vitest';
import { essError } from './aliyun/ess-errors.ts';
import { scrubCloudMessage } from './scrub-cloud-message.ts';
import { tencentError, tencentV2Error } from './tencent/tencent-errors.ts';

const STRING_TO_SIGN =
  'POST&%2F&AccessKeyId%3DLTAI5tQ9example0001%26Action%3DDetachInstances%26SignatureNonce%3Dc0ffee00';

describe('scrubCloudMessage', () => {
  it('drops the string to sign ESS echoes with SignatureDoesNotMatch, and keeps the sentence before it', () => {
    const scrubbed = scrubCloudMessage(
      `Specified signature is not matched with our calculation. server string to sign is:${STRING_TO_SIGN}`,
    );

    expect(scrubbed).toBe(
      'Specified signature is not matched with our calculation. [redacted] (string to sign)',
    );
  });

  it('drops a V3 gateway StringToSign with its hash', () => {
    const scrubbed = scrubCloudMessage(
      'Specified signature does not match our calculation. server StringToSign is [ACS3-HMAC-SHA256 ca34f861dc000dc2a87960f0025f874ced969a0b32c0982f7e0a208e6d794085]',
    );

    expect(scrubbed).not.toMatch(/ca34f861|ACS3-HMAC-SHA256 /);
  });

  it.each([
    ['an Alibaba access key id', 'The AccessKey LTAI5tQ9exampleKey01 is disabled.', 'LTAI5tQ9exampleKey01'],
    [
      'a Tencent SecretId',
      'SecretId AKIDz8krbsJ5yKBZQpn74WFkmLPx3EXAMPLE not found',
      'AKIDz8krbsJ5yKBZQpn74WFkmLPx3EXAMPLE',
    ],
    [
      'a base64 HMAC-SHA1 signature',
      'bad Signature Ee5D0uyA3br07PtRzF4MyE/b9XU= given',
      'Ee5D0uyA3br07PtRzF4MyE/b9XU=',
    ],
    [
      'a base64 HMAC-SHA256 signature',
      'got 0EEm/HtGRr/VJXTAD9tYMth1Bzm3lLHz5RCDv1GdM8s= here',
      '0EEm/HtGRr/VJXTAD9tYMth1Bzm3lLHz5RCDv1GdM8s=',
    ],
    [
      'a hex signature',
      'sig 2b951610d513adf9b0ba1720b921e48426368217a3b47f514d1616754c3e93ab',
      '2b951610d513adf9',
    ],
    ['a Signature= pair', 'request Signature=abc%2Fdef%3D was refused', 'abc%2Fdef'],
    ['a security token', 'SecurityToken: CAIS8gF1q6Ft5B2yfSjIr5 expired', 'CAIS8gF1q6Ft5B2yfSjIr5'],
    ['an Authorization header', 'Authorization=TC3-HMAC-SHA256 rejected', 'TC3-HMAC-SHA256'],
  ])('redacts %s', (_name, message, secret) => {
    expect(scrubCloudMessage(message)).not.toContain(secret);
  });

  it('leaves an ordinary message, its codes and ids alone', () => {
    const message =
      'The specified scaling group asg-bp1igpak5ft1flyp0001 does not exist. (100004) RequestId 6F1B2C3D-1111-4222-8333-444455556666';

    expect(scrubCloudMessage(message)).toBe(message);
  });
});

describe("the providers' error paths scrub the cloud message", () => {
  const echoed = `Specified signature is not matched with our calculation. server string to sign is:${STRING_TO_SIGN}`;

  it.each([
    ['ESS', essError('SignatureDoesNotMatch', echoed, 400)],
    ['Tencent API 3.0', tencentError('AuthFailure.SignatureFailure', echoed, 200)],
    ['Tencent v2', tencentV2Error(4100, 'AuthFailure.SignatureFailure', echoed)],
  ])('%s', (_name, error) => {
    expect(error.message).not.toContain('AccessKeyId');
    expect(error.message).not.toContain('LTAI5tQ9example0001');
    expect(JSON.stringify(error.toJSON())).not.toContain('string to sign is');
  });
});
