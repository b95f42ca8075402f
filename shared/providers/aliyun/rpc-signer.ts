import { createHmac, createSecretKey, type KeyObject } from 'node:crypto';

/** RFC 3986 encoding as Alibaba's RPC signature wants it: space %20, `*` %2A, `~` kept (docs/reference/aliyun-ess.md §3). */
export const percentEncode = (value: string): string => {
  // Names, ids and numbers are mostly unreserved characters only: a regular expression test is cheaper than the
  // call into the runtime that encodeURIComponent is.
  if (UNRESERVED.test(value)) return value;
  const encoded = encodeURIComponent(value);
  // Most values (ids, numbers, timestamps) have none of the five; the test is cheaper than the replace.
  return RESERVED.test(encoded)
    ? encoded.replace(RESERVED_ALL, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)
    : encoded;
};
const UNRESERVED = /^[A-Za-z0-9_.~-]*$/;
const RESERVED = /[!'()*]/;
const RESERVED_ALL = /[!'()*]/g;

/** Sorted by name in code-unit order, which for the ASCII names of the API is byte order (`InstanceId.10` < `.2`). */
export const canonicalQuery = (params: Readonly<Record<string, string>>): string => {
  let query = '';
  for (const key of Object.keys(params).sort()) {
    query += `${query === '' ? '' : '&'}${percentEncode(key)}=${percentEncode(params[key] as string)}`;
  }
  return query;
};

export const rpcStringToSign = (method: string, params: Readonly<Record<string, string>>): string =>
  rpcStringToSignOf(method, canonicalQuery(params));

const rpcStringToSignOf = (method: string, query: string): string =>
  `${method.toUpperCase()}&${percentEncode('/')}&${percentEncode(query)}`;

/** Signature version 1.0, HMAC-SHA1, keyed with `secret&`. `params` must not contain `Signature`. */
export const signRpc = (
  method: string,
  params: Readonly<Record<string, string>>,
  accessKeySecret: string,
): string => signRpcQuery(method, canonicalQuery(params), accessKeySecret);

/** The same from the canonical query already made: a client that sends that query as its body builds it once. */
export const signRpcQuery = (method: string, query: string, accessKeySecret: string): string =>
  createHmac('sha1', hmacKeyOf(accessKeySecret)).update(rpcStringToSignOf(method, query)).digest('base64');

/**
 * The HMAC key as a KeyObject, made once per secret (the last one is kept, in this process only): given a string
 * or a Buffer, createHmac makes one on every call.
 */
let lastKey: { secret: string; key: KeyObject } | undefined;
function hmacKeyOf(accessKeySecret: string): KeyObject {
  if (lastKey?.secret !== accessKeySecret) {
    lastKey = { secret: accessKeySecret, key: createSecretKey(Buffer.from(`${accessKeySecret}&`, 'utf8')) };
  }
  return lastKey.key;
}

/** `Timestamp` as the RPC API wants it: UTC, seconds precision, no milliseconds. */
export const rpcTimestamp = (date: Date): string => `${date.toISOString().slice(0, 19)}Z`;
