/**
 * The emulator's own signature checks, written from the clouds' signature documents and independent of the
 * clients' signers in shared/providers: a verifier that shared the client's code would agree with its bugs.
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';

const sha256Hex = (text: string) => createHash('sha256').update(text, 'utf8').digest('hex');
const hmac = (algorithm: 'sha1' | 'sha256', key: Buffer | string, text: string) =>
  createHmac(algorithm, key).update(text, 'utf8').digest();

/** Compares in constant time; different lengths are simply unequal. */
export function sameSecret(a: string, b: string): boolean {
  const left = Buffer.from(a);
  const right = Buffer.from(b);
  return left.length === right.length && timingSafeEqual(left, right);
}

/** RFC 3986, as both Alibaba signatures encode: space %20, `*` %2A, `~` kept. */
export const rfc3986 = (value: string): string =>
  encodeURIComponent(value).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);

const sortedPairs = (params: Readonly<Record<string, string>>, encode: (s: string) => string) =>
  Object.keys(params)
    .sort()
    .map((name) => `${encode(name)}=${encode(params[name] ?? '')}`)
    .join('&');

/** The RPC string to sign: METHOD&%2F& + the encoded, sorted parameters but Signature, encoded again. */
export function aliyunRpcStringToSign(method: string, params: Readonly<Record<string, string>>): string {
  const { Signature: _signature, ...signed } = params;
  return `${method.toUpperCase()}&%2F&${rfc3986(sortedPairs(signed, rfc3986))}`;
}

/** Alibaba RPC signature 1.0 (HMAC-SHA1 keyed with `secret&`) over every parameter but Signature. */
export function aliyunRpcSignature(
  method: string,
  params: Readonly<Record<string, string>>,
  secret: string,
): string {
  return hmac('sha1', `${secret}&`, aliyunRpcStringToSign(method, params)).toString('base64');
}

export interface Acs3Authorization {
  accessKeyId: string;
  signedHeaders: string[];
  signature: string;
}

export function parseAcs3Authorization(header: string): Acs3Authorization | undefined {
  const match =
    /^ACS3-HMAC-SHA256\s+Credential=([^,]+),\s*SignedHeaders=([^,]+),\s*Signature=([0-9a-f]{64})$/.exec(
      header.trim(),
    );
  if (!match) return undefined;
  return {
    accessKeyId: match[1] as string,
    signedHeaders: (match[2] as string).split(';'),
    signature: match[3] as string,
  };
}

/** Alibaba signature V3 (ACS3-HMAC-SHA256): the hex signature for the given signed header values. */
export function aliyunAcs3Signature(input: {
  method: string;
  query: Readonly<Record<string, string>>;
  /** The signed headers by lower-case name, in any order. */
  headers: Readonly<Record<string, string>>;
  hashedPayload: string;
  secret: string;
}): string {
  const names = Object.keys(input.headers).sort();
  const canonicalRequest = [
    input.method.toUpperCase(),
    '/',
    sortedPairs(input.query, rfc3986),
    names.map((name) => `${name}:${String(input.headers[name]).trim()}\n`).join(''),
    names.join(';'),
    input.hashedPayload,
  ].join('\n');
  return hmac('sha256', input.secret, `ACS3-HMAC-SHA256\n${sha256Hex(canonicalRequest)}`).toString('hex');
}

export const hashedPayload = sha256Hex;

export interface Tc3Authorization {
  secretId: string;
  date: string;
  service: string;
  signedHeaders: string[];
  signature: string;
}

export function parseTc3Authorization(header: string): Tc3Authorization | undefined {
  const match =
    /^TC3-HMAC-SHA256 Credential=([^/]+)\/(\d{4}-\d{2}-\d{2})\/([^/]+)\/tc3_request, SignedHeaders=([^,]+), Signature=([0-9a-f]{64})$/.exec(
      header.trim(),
    );
  if (!match) return undefined;
  return {
    secretId: match[1] as string,
    date: match[2] as string,
    service: match[3] as string,
    signedHeaders: (match[4] as string).split(';'),
    signature: match[5] as string,
  };
}

/** Tencent TC3-HMAC-SHA256: the hex signature. `query` is the query string exactly as sent (GET), '' for POST. */
export function tencentTc3Signature(input: {
  method: string;
  query: string;
  headers: Readonly<Record<string, string>>;
  body: string;
  timestamp: number;
  service: string;
  secretKey: string;
}): string {
  const names = Object.keys(input.headers).sort();
  const canonicalRequest = [
    input.method.toUpperCase(),
    '/',
    input.query,
    names.map((name) => `${name}:${String(input.headers[name]).trim()}\n`).join(''),
    names.join(';'),
    sha256Hex(input.body),
  ].join('\n');
  const date = new Date(input.timestamp * 1000).toISOString().slice(0, 10);
  const scope = `${date}/${input.service}/tc3_request`;
  const stringToSign = `TC3-HMAC-SHA256\n${input.timestamp}\n${scope}\n${sha256Hex(canonicalRequest)}`;
  const key = hmac(
    'sha256',
    hmac('sha256', hmac('sha256', `TC3${input.secretKey}`, date), input.service),
    'tc3_request',
  );
  return hmac('sha256', key, stringToSign).toString('hex');
}

/** Parameter names as Tencent's v1/v2 signature reads them: `_` is `.`, except a leading one. */
export const tencentSignedName = (name: string): string =>
  name.startsWith('_') ? name : name.replaceAll('_', '.');

/**
 * Tencent's HmacSHA1 / HmacSHA256 signature (legacy v2 API, and API 3.0 with SignatureMethod): METHOD + host +
 * path + `?` + the raw parameters sorted by name, base64.
 */
export function tencentV1Signature(
  method: string,
  host: string,
  path: string,
  params: Readonly<Record<string, string>>,
  secretKey: string,
): string {
  const pairs = Object.entries(params)
    .filter(([name]) => name !== 'Signature')
    .map(([name, value]) => [tencentSignedName(name), value] as const)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([name, value]) => `${name}=${value}`)
    .join('&');
  const algorithm = params.SignatureMethod === 'HmacSHA256' ? 'sha256' : 'sha1';
  return hmac(algorithm, secretKey, `${method.toUpperCase()}${host}${path}?${pairs}`).toString('base64');
}

/** The host as sent and without its port: SDKs sign one or the other against a local endpoint. */
export const hostVariants = (host: string): string[] => [...new Set([host, host.replace(/:\d+$/, '')])];
