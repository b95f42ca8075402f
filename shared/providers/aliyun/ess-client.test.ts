import { readFileSync } from 'node:fs';
import { type Agent, MockAgent } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import { EssClient } from './ess-client.ts';

interface CaptureVector {
  name: string;
  url: string;
  accessKeyId: string;
  accessKeySecret: string;
  signedHeaders: Record<string, string>;
  expectedAuthorization: string;
}

const { v3 } = JSON.parse(
  readFileSync(new URL('../../../test/fixtures/aliyun-ess-vectors.json', import.meta.url), 'utf8'),
) as { v3: CaptureVector[] };
// The standard six headers: what our client sends (it names no credentials provider).
const vector = v3.find(
  (v) => v.name === 'openapi-util-v3-DescribeScalingActivities-standard-headers',
) as CaptureVector;

/** The HTTP side is undici's MockAgent: this is a unit test of what the client puts on the wire. */
describe('EssClient with signatureVersion v3', () => {
  const mock = new MockAgent();
  mock.disableNetConnect();
  afterEach(() => mock.assertNoPendingInterceptors());

  it('sends the published V3 request byte for byte: query, x-acs-* headers, empty body, Authorization', async () => {
    const url = new URL(vector.url);
    let sent: { path: string; headers: Record<string, string>; body: unknown } | undefined;
    mock
      .get(url.origin)
      .intercept({ path: (path) => path.startsWith('/?'), method: 'POST' })
      .reply((options) => {
        sent = {
          path: options.path,
          headers: options.headers as Record<string, string>,
          body: options.body,
        };
        return { statusCode: 200, data: { RequestId: 'r', ScalingActivities: { ScalingActivity: [] } } };
      });
    const client = new EssClient({
      credentials: async () => ({ accessKeyId: vector.accessKeyId, accessKeySecret: vector.accessKeySecret }),
      httpAgent: mock as unknown as Agent,
      signatureVersion: 'v3',
      now: () => new Date(vector.signedHeaders['x-acs-date'] as string),
      nonce: () => vector.signedHeaders['x-acs-signature-nonce'] as string,
    });

    await client.call('DescribeScalingActivities', 'cn-hangzhou', {
      'ScalingActivityId.1': 'asa-bp161xudmuxdzofe0001',
      'ScalingActivityId.2': 'asa-bp161xudmuxdzofe0002',
    });

    expect(sent?.path).toBe(`/${url.search}`);
    expect(sent?.body ?? '').toBe('');
    expect(sent?.headers.authorization).toBe(vector.expectedAuthorization);
    for (const [name, value] of Object.entries(vector.signedHeaders)) {
      if (name !== 'host') expect(sent?.headers[name]).toBe(value);
    }
    expect(sent?.headers['content-type']).toBeUndefined();
  });
});
