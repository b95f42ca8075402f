import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import * as tencentcloud from 'tencentcloud-sdk-nodejs/tencentcloud/services/as/index.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { captureServer } from '../../../test/support/capture-server.ts';
import { parseTc3Authorization, signTc3 } from './tc3-signer.ts';
import { signV2, v2StringToSign } from './v2-signer.ts';

const read = (name: string) =>
  JSON.parse(readFileSync(new URL(`../../../test/fixtures/${name}`, import.meta.url), 'utf8'));
const V2_KEY = 'Gu5t9xGARNpq86cd98joQYCN3Cozk1qA';
const TC3 = {
  secretId: 'AKIDz8krbsJ5yKBZQpn74WFkmLPx3EXAMPLE',
  secretKey: 'Gu5t9xGARNpq86cd98joQYCN3EXAMPLE',
};

describe('Tencent v2 signature against the published vectors', () => {
  // docs/reference/tencent-as.md §A7: the documented string-to-sign examples.
  it.each([
    [
      'GETcvm.api.qcloud.com/v2/index.php?Action=DescribeInstances&Nonce=11886&Region=gz&SecretId=AKIDz8krbsJ5yKBZQpn74WFkmLPx3gnPhESA&Timestamp=1465185768&instanceIds.0=ins-09dx96dg&limit=20&offset=0',
      'sha1',
      'NSI3UqqD99b/UJb4tbG/xZpRW64=',
    ],
    [
      'GETcvm.api.qcloud.com/v2/index.php?Action=DescribeInstances&InstanceIds.0=ins-09dx96dg&Nonce=11886&Region=ap-guangzhou&SecretId=AKIDz8krbsJ5yKBZQpn74WFkmLPx3gnPhESA&SignatureMethod=HmacSHA256&Timestamp=1465185768',
      'sha256',
      '0EEm/HtGRr/VJXTAD9tYMth1Bzm3lLHz5RCDv1GdM8s=',
    ],
    [
      'GETcvm.api.qcloud.com/v2/index.php?Action=DescribeInstances&InstanceIds.0=ins-09dx96dg&Nonce=11886&Region=ap-guangzhou&SecretId=AKIDz8krbsJ5yKBZQpn74WFkmLPx3gnPhESA&SignatureMethod=HmacSHA1&Timestamp=1465185768',
      'sha1',
      'nPVnY6njQmwQ8ciqbPl5Qe+Oru4=',
    ],
  ])('%s', (srcStr, _algorithm, signature) => {
    const url = new URL(`https://${srcStr.slice(3)}`);
    const params = Object.fromEntries(url.searchParams);

    expect(v2StringToSign('GET', url.host, url.pathname, params)).toBe(srcStr);
    expect(signV2('GET', url.host, url.pathname, params, V2_KEY)).toBe(signature);
  });

  it.each(
    (read('tencent-v2-vectors.json') as { name: string }[]).map((v) => [v.name, v] as [string, unknown]),
  )('%s', (_name, vector) => {
    const {
      method = 'POST',
      params,
      signature,
    } = vector as { method?: string; params: Record<string, string>; signature: string };

    expect(signV2(method, 'scaling.api.qcloud.com', '/v2/index.php', params, V2_KEY)).toBe(signature);
    if ((vector as { stringToSign?: string }).stringToSign) {
      expect(v2StringToSign(method, 'scaling.api.qcloud.com', '/v2/index.php', params)).toBe(
        (vector as { stringToSign: string }).stringToSign,
      );
    }
  });
});

describe('TC3-HMAC-SHA256 against the published vectors', () => {
  it("reproduces Tencent's documented example", () => {
    const body = '{"Limit": 1, "Filters": [{"Values": ["\\u672a\\u547d\\u540d"], "Name": "instance-name"}]}';

    const signed = signTc3({
      method: 'POST',
      headers: { 'content-type': 'application/json; charset=utf-8', host: 'cvm.tencentcloudapi.com' },
      body,
      timestamp: 1551113065,
      service: 'cvm',
      ...TC3,
    });

    expect(signed.signature).toBe('72e494ea809ad7a8c8f7a4507b9bddcbaa8e581f516e8da2f66e2c5a96525168');
  });

  const sdkVectors = read('tencent-tc3-vectors.json').filter(
    (v: { mode: string }) => v.mode === 'A-default-endpoint',
  );
  it.each(
    (sdkVectors as { headers: Record<string, string> }[]).map(
      (v) => [v.headers['X-TC-Action'], v] as [string, unknown],
    ),
  )('reproduces tencentcloud-sdk-nodejs: %s', (_action, vector) => {
    const { method, url, headers, body, canonicalRequest } = vector as {
      method: string;
      url: string;
      headers: Record<string, string>;
      body?: string;
      canonicalRequest: string;
    };

    const signed = signTc3({
      method,
      canonicalQuery: new URL(url).search.slice(1),
      headers: { 'content-type': headers['Content-Type'] as string, host: headers.Host as string },
      body: body ?? '',
      timestamp: Number(headers['X-TC-Timestamp']),
      service: 'as',
      ...TC3,
    });

    expect(signed.canonicalRequest).toBe(canonicalRequest);
    expect(signed.authorization).toBe(headers.Authorization);
  });

  it('reproduces the SDK against a local endpoint: host without port, service "127"', () => {
    const vector = read('tencent-tc3-vectors.json').find(
      (v: { mode: string }) => v.mode === 'B-local-endpoint',
    );
    const received = vector.received as { headers: Record<string, string>; body: string };

    const signed = signTc3({
      method: 'POST',
      headers: { 'content-type': 'application/json', host: '127.0.0.1' },
      body: received.body,
      timestamp: 1700000000,
      service: '127',
      ...TC3,
    });

    expect(signed.authorization).toBe(received.headers.authorization);
    expect(parseTc3Authorization(signed.authorization)).toMatchObject({
      service: '127',
      signedHeaders: ['content-type', 'host'],
    });
  });
});

/** tencentcloud-sdk-nodejs signs and sends to a capture server on 127.0.0.1; we sign what it sent and compare. */
describe('agreement with tencentcloud-sdk-nodejs (TC3)', () => {
  let capture: Awaited<ReturnType<typeof captureServer>>;
  let endpoint: string;

  beforeAll(async () => {
    capture = await captureServer('{"Response":{"ActivityId":"asa-captured","RequestId":"r"}}');
    endpoint = capture.host;
  });
  afterAll(() => capture.close());

  const text = fc.oneof(
    fc.string({ unit: 'grapheme', maxLength: 20 }),
    fc
      .array(fc.constantFrom(' ', '"', '\\', '/', '+', '=', '&', '%', 'é', '伸', '😀', '\n'), {
        maxLength: 10,
      })
      .map((c) => c.join('')),
  );

  it('signs exactly as the SDK does for generated requests', async () => {
    await fc.assert(
      fc.asyncProperty(
        text,
        fc.array(text, { minLength: 1, maxLength: 5 }),
        fc.string({ minLength: 1, maxLength: 40 }),
        fc.constantFrom('ap-guangzhou', 'ap-shanghai', 'na-siliconvalley'),
        async (groupId, instanceIds, secretKey, region) => {
          const client = new tencentcloud.as.v20180419.Client({
            credential: { secretId: TC3.secretId, secretKey },
            region,
            profile: { httpProfile: { endpoint, protocol: 'http://', reqMethod: 'POST', reqTimeout: 5 } },
          });
          capture.captured.length = 0;
          await client.DetachInstances({ AutoScalingGroupId: groupId, InstanceIds: instanceIds });
          const sent = capture.captured[0] as { headers: Record<string, string>; body: string };

          // The SDK signs the host without the port and takes the service from the endpoint's first label.
          const ours = signTc3({
            method: 'POST',
            headers: { 'content-type': sent.headers['content-type'] as string, host: '127.0.0.1' },
            body: sent.body,
            timestamp: Number(sent.headers['x-tc-timestamp']),
            service: '127',
            secretId: TC3.secretId,
            secretKey,
          });

          expect(ours.authorization).toBe(sent.headers.authorization);
        },
      ),
      { numRuns: 100 },
    );
  });
});
