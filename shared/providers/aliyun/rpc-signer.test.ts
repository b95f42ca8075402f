import { readFileSync } from 'node:fs';
import RPCClient from '@alicloud/pop-core';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { captureServer } from '../../../test/support/capture-server.ts';
import { canonicalQuery, percentEncode, rpcStringToSign, rpcTimestamp, signRpc } from './rpc-signer.ts';

interface Vector {
  name: string;
  method: string;
  accessKeySecret: string;
  params?: Record<string, string>;
  signedParams?: Record<string, string>;
  canonicalQuery?: string;
  stringToSign: string;
  expectedSignature: string;
}

const vectors = JSON.parse(
  readFileSync(new URL('../../../test/fixtures/aliyun-ess-vectors.json', import.meta.url), 'utf8'),
) as { documented: Vector[]; popcore: Vector[] };

describe('RPC signature 1.0 against the published vectors', () => {
  it.each([...vectors.documented, ...vectors.popcore].map((v) => [v.name, v] as const))(
    '%s',
    (_name, vector) => {
      const params = vector.signedParams ?? vector.params ?? {};

      expect(rpcStringToSign(vector.method, params)).toBe(vector.stringToSign);
      expect(signRpc(vector.method, params, vector.accessKeySecret)).toBe(vector.expectedSignature);
      if (vector.canonicalQuery) expect(canonicalQuery(params)).toBe(vector.canonicalQuery);
    },
  );
});

describe('percent encoding', () => {
  it('writes space as %20, * as %2A, keeps ~ and the unreserved set', () => {
    expect(percentEncode("a b*c~d-_.!'()")).toBe('a%20b%2Ac~d-_.%21%27%28%29');
  });

  it('encodes UTF-8 bytes in upper-case hex', () => {
    expect(percentEncode('伸缩组/é')).toBe('%E4%BC%B8%E7%BC%A9%E7%BB%84%2F%C3%A9');
  });

  it('sorts InstanceId.10 before InstanceId.2, as byte order does', () => {
    expect(canonicalQuery({ 'InstanceId.2': 'b', 'InstanceId.10': 'a' })).toBe(
      'InstanceId.10=a&InstanceId.2=b',
    );
  });

  it('formats the timestamp without milliseconds', () => {
    expect(rpcTimestamp(new Date('2025-01-15T08:30:00.123Z'))).toBe('2025-01-15T08:30:00Z');
  });
});

/** pop-core signs and sends; a capture server on 127.0.0.1 keeps what it sent, and we sign the same parameters. */
describe('agreement with @alicloud/pop-core', () => {
  let capture: Awaited<ReturnType<typeof captureServer>>;
  let endpoint: string;
  /** What pop-core sent: form parameters (POST) or query parameters (GET). */
  const sentParams = () => {
    const sent = capture.captured[0];
    if (!sent) return undefined;
    const url = new URL(sent.url, 'http://capture');
    return Object.fromEntries(sent.method === 'POST' ? new URLSearchParams(sent.body) : url.searchParams);
  };

  beforeAll(async () => {
    capture = await captureServer('{"RequestId":"captured"}');
    endpoint = `http://${capture.host}`;
  });
  afterAll(() => capture.close());

  const tricky = fc.constantFrom(
    ' ',
    '*',
    '~',
    '+',
    '/',
    '=',
    '&',
    '%',
    '!',
    "'",
    '(',
    ')',
    ':',
    '?',
    '#',
    'é',
    '伸',
    '😀',
    '\n',
  );
  const value = fc.oneof(
    fc.string({ unit: 'grapheme', maxLength: 24 }),
    fc.array(tricky, { maxLength: 12 }).map((chars) => chars.join('')),
  );
  const key = fc.stringMatching(/^[A-Z][A-Za-z0-9]{0,11}(\.[1-9][0-9]?)?$/);

  it('signs exactly as pop-core does for generated parameters, GET and POST', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.dictionary(key, value, { minKeys: 1, maxKeys: 8 }),
        fc.constantFrom('GET', 'POST'),
        fc.string({ minLength: 1, maxLength: 30 }),
        async (params, method, secret) => {
          const client = new RPCClient({
            accessKeyId: 'testid',
            accessKeySecret: secret,
            endpoint,
            apiVersion: '2014-08-28',
          });
          capture.captured.length = 0;
          await client.request('DetachInstances', params, { method, formatParams: false });
          const sent = sentParams();
          expect(sent).toBeDefined();
          const { Signature, ...signed } = sent ?? {};

          expect(signRpc(method, signed, secret)).toBe(Signature);
        },
      ),
      { numRuns: 150 },
    );
  });
});
