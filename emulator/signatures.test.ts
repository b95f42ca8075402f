/**
 * The emulator's own verifiers against the published signature vectors (test/fixtures, copied from the
 * project's reference specs): a verifier that computes the published signature accepts what the cloud accepts.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  aliyunAcs3Signature,
  aliyunRpcSignature,
  hashedPayload,
  parseAcs3Authorization,
  parseTc3Authorization,
  tencentTc3Signature,
  tencentV1Signature,
} from './signatures.ts';

const fixture = (name: string) =>
  JSON.parse(readFileSync(new URL(`../test/fixtures/${name}`, import.meta.url), 'utf8'));

interface RpcVector {
  name: string;
  method: string;
  accessKeySecret: string;
  params?: Record<string, string>;
  signedParams?: Record<string, string>;
  expectedSignature: string;
}
interface V3Vector {
  name: string;
  input?: {
    method: string;
    host: string;
    query: Record<string, string>;
    headers: Record<string, string>;
    body: string;
    secret: string;
  };
  method?: string;
  accessKeySecret?: string;
  query?: Record<string, string>;
  body?: string;
  signedHeaders?: Record<string, string>;
  expectedAuthorization: string;
}
const aliyun = fixture('aliyun-ess-vectors.json') as {
  documented: RpcVector[];
  popcore: RpcVector[];
  v3: V3Vector[];
};

describe('Alibaba RPC signature 1.0', () => {
  it.each([...aliyun.documented, ...aliyun.popcore].map((v) => [v.name, v] as const))('%s', (_name, v) => {
    expect(aliyunRpcSignature(v.method, v.signedParams ?? v.params ?? {}, v.accessKeySecret)).toBe(
      v.expectedSignature,
    );
  });
});

describe('Alibaba signature V3 (ACS3-HMAC-SHA256), the published example first', () => {
  it.each(aliyun.v3.map((v) => [v.name, v] as const))('%s', (_name, v) => {
    const authorization = parseAcs3Authorization(v.expectedAuthorization);
    const input = v.input;
    const headers: Record<string, string> = input
      ? { host: input.host, ...input.headers, 'x-acs-content-sha256': hashedPayload(input.body) }
      : (v.signedHeaders as Record<string, string>);

    const signature = aliyunAcs3Signature({
      method: input?.method ?? (v.method as string),
      query: input?.query ?? (v.query as Record<string, string>),
      headers: Object.fromEntries(
        (authorization?.signedHeaders ?? []).map((name) => [name, headers[name] as string]),
      ),
      hashedPayload: hashedPayload(input?.body ?? (v.body as string)),
      secret: input?.secret ?? (v.accessKeySecret as string),
    });

    expect(signature).toBe(authorization?.signature);
  });
});

describe('Tencent TC3-HMAC-SHA256', () => {
  it("reproduces Tencent's documented example", () => {
    expect(
      tencentTc3Signature({
        method: 'POST',
        query: '',
        headers: { 'content-type': 'application/json; charset=utf-8', host: 'cvm.tencentcloudapi.com' },
        body: '{"Limit": 1, "Filters": [{"Values": ["\\u672a\\u547d\\u540d"], "Name": "instance-name"}]}',
        timestamp: 1551113065,
        service: 'cvm',
        secretKey: 'Gu5t9xGARNpq86cd98joQYCN3EXAMPLE',
      }),
    ).toBe('72e494ea809ad7a8c8f7a4507b9bddcbaa8e581f516e8da2f66e2c5a96525168');
  });

  it('verifies the SDK capture of DetachInstances', () => {
    const [vector] = fixture('tencent-tc3-vectors.json') as {
      headers: Record<string, string | number>;
      body: string;
    }[];
    const authorization = parseTc3Authorization(String(vector?.headers.Authorization));

    expect(
      tencentTc3Signature({
        method: 'POST',
        query: '',
        headers: {
          'content-type': String(vector?.headers['Content-Type']),
          host: String(vector?.headers.Host),
        },
        body: vector?.body as string,
        timestamp: Number(vector?.headers['X-TC-Timestamp']),
        service: authorization?.service as string,
        secretKey: 'Gu5t9xGARNpq86cd98joQYCN3EXAMPLE',
      }),
    ).toBe(authorization?.signature);
  });
});

describe('Tencent HmacSHA1 / HmacSHA256 (v2, and v1 on API 3.0)', () => {
  it.each(
    (
      fixture('tencent-v2-vectors.json') as {
        name: string;
        url?: string;
        method?: string;
        params: Record<string, string>;
        signature: string;
      }[]
    ).map((v) => [v.name, v] as const),
  )('%s', (_name, v) => {
    // The underscore vector is the POST DetachInstance of the first, with `instanceIds_0` names.
    const url = new URL(v.url ?? 'https://scaling.api.qcloud.com/v2/index.php');

    expect(
      tencentV1Signature(
        v.method ?? 'POST',
        url.host,
        url.pathname,
        v.params,
        'Gu5t9xGARNpq86cd98joQYCN3Cozk1qA',
      ),
    ).toBe(v.signature);
  });
});
