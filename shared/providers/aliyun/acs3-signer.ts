import { createHash, createHmac } from 'node:crypto';
import { percentEncode } from './rpc-signer.ts';

export const ACS3_ALGORITHM = 'ACS3-HMAC-SHA256';

export const sha256Hex = (text: string): string => createHash('sha256').update(text, 'utf8').digest('hex');

export interface Acs3Input {
  method: string;
  /** The operation's parameters in the query string (RPC style), unencoded. */
  query: Readonly<Record<string, string>>;
  /** host, x-acs-* and content-type headers; x-acs-content-sha256 is added from the body when absent. */
  headers: Readonly<Record<string, string>>;
  body: string;
  accessKeyId: string;
  accessKeySecret: string;
}

export interface Acs3Signature {
  canonicalRequest: string;
  stringToSign: string;
  signature: string;
  signedHeaders: string;
  /** Every header to send, the computed content hash included, and Authorization. */
  headers: Record<string, string>;
  authorization: string;
}

/** The V3 canonical query: names sorted, values RFC 3986 encoded, `name=` for an empty value. */
export const acs3CanonicalQuery = (query: Readonly<Record<string, string>>): string =>
  Object.keys(query)
    .sort()
    .map((name) => `${percentEncode(name)}=${percentEncode(query[name] ?? '')}`)
    .join('&');

/** Whether a header takes part in the V3 signature (specs: host, content-type and every x-acs-*). */
export const isAcs3SignedHeader = (name: string): boolean => {
  const lower = name.toLowerCase();
  return lower === 'host' || lower === 'content-type' || lower.startsWith('x-acs-');
};

/** Alibaba Cloud signature V3, ACS3-HMAC-SHA256, as the V3 signature doc and @alicloud/openapi-util sign. */
export function signAcs3(input: Acs3Input): Acs3Signature {
  const headers: Record<string, string> = Object.fromEntries(
    Object.entries(input.headers).map(([name, value]) => [name.toLowerCase(), value.trim()]),
  );
  headers['x-acs-content-sha256'] ??= sha256Hex(input.body);
  const names = Object.keys(headers).filter(isAcs3SignedHeader).sort();
  const signedHeaders = names.join(';');
  const canonicalRequest = [
    input.method.toUpperCase(),
    '/',
    acs3CanonicalQuery(input.query),
    names.map((name) => `${name}:${headers[name]}\n`).join(''),
    signedHeaders,
    headers['x-acs-content-sha256'],
  ].join('\n');
  const stringToSign = `${ACS3_ALGORITHM}\n${sha256Hex(canonicalRequest)}`;
  const signature = createHmac('sha256', input.accessKeySecret).update(stringToSign, 'utf8').digest('hex');
  const authorization = `${ACS3_ALGORITHM} Credential=${input.accessKeyId},SignedHeaders=${signedHeaders},Signature=${signature}`;
  return {
    canonicalRequest,
    stringToSign,
    signature,
    signedHeaders,
    authorization,
    headers: { ...headers, authorization },
  };
}

/** `yyyy-MM-ddTHH:mm:ssZ`, as x-acs-date wants it. */
export const acs3Date = (date: Date): string => `${date.toISOString().slice(0, 19)}Z`;
