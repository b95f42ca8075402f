import { createHmac, createSecretKey, hash, type KeyObject } from 'node:crypto';

export const TC3_ALGORITHM = 'TC3-HMAC-SHA256';

const sha256Hex = (text: string) => hash('sha256', text, 'hex');
const hmac = (key: Buffer | string, text: string) => createHmac('sha256', key).update(text, 'utf8').digest();

export interface Tc3Input {
  method: string;
  /** The query string as sent (GET), or '' (POST). */
  canonicalQuery?: string;
  /** The headers to sign, by name; at least content-type and host. */
  headers: Readonly<Record<string, string>>;
  body: string;
  /** Unix seconds; also the X-TC-Timestamp header. */
  timestamp: number;
  /** The first label of the host: `as`. */
  service: string;
  secretId: string;
  secretKey: string;
}

export interface Tc3Signature {
  canonicalRequest: string;
  stringToSign: string;
  signature: string;
  authorization: string;
  signedHeaders: string;
}

/**
 * The signing key depends only on the secret, the UTC date and the service: three of the four HMACs of a
 * signature, made once a day instead of on every call (the last key is kept, in this process only). It is kept
 * as a KeyObject: given a Buffer, createHmac makes one on every call, at several times the cost of the HMAC.
 */
let lastSigningKey: { secretKey: string; date: string; service: string; key: KeyObject } | undefined;
function signingKeyOf(secretKey: string, date: string, service: string): KeyObject {
  const last = lastSigningKey;
  if (last && last.secretKey === secretKey && last.date === date && last.service === service) return last.key;
  const key = createSecretKey(hmac(hmac(hmac(`TC3${secretKey}`, date), service), 'tc3_request'));
  lastSigningKey = { secretKey, date, service, key };
  return key;
}

/** TC3-HMAC-SHA256 (docs/reference/tencent-as.md §B6). */
export function signTc3(input: Tc3Input): Tc3Signature {
  const names = Object.keys(input.headers)
    .map((name) => name.toLowerCase())
    .sort();
  const lowered = Object.fromEntries(
    Object.entries(input.headers).map(([name, value]) => [name.toLowerCase(), value]),
  );
  const canonicalHeaders = names.map((name) => `${name}:${String(lowered[name]).trim()}\n`).join('');
  const signedHeaders = names.join(';');
  const canonicalRequest = [
    input.method.toUpperCase(),
    '/',
    input.canonicalQuery ?? '',
    canonicalHeaders,
    signedHeaders,
    sha256Hex(input.body),
  ].join('\n');
  const date = new Date(input.timestamp * 1000).toISOString().slice(0, 10);
  const scope = `${date}/${input.service}/tc3_request`;
  const stringToSign = `${TC3_ALGORITHM}\n${input.timestamp}\n${scope}\n${sha256Hex(canonicalRequest)}`;
  const signingKey = signingKeyOf(input.secretKey, date, input.service);
  const signature = createHmac('sha256', signingKey).update(stringToSign, 'utf8').digest('hex');
  return {
    canonicalRequest,
    stringToSign,
    signature,
    signedHeaders,
    authorization: `${TC3_ALGORITHM} Credential=${input.secretId}/${scope}, SignedHeaders=${signedHeaders}, Signature=${signature}`,
  };
}

/** The parts of an Authorization header, for a verifier. */
export function parseTc3Authorization(
  header: string,
):
  | { secretId: string; date: string; service: string; signedHeaders: string[]; signature: string }
  | undefined {
  const match =
    /^TC3-HMAC-SHA256 Credential=([^/]+)\/(\d{4}-\d{2}-\d{2})\/([^/]+)\/tc3_request, SignedHeaders=([^,]+), Signature=([0-9a-f]{64})$/.exec(
      header.trim(),
    );
  if (!match) return undefined;
  const [, secretId, date, service, signedHeaders, signature] = match as unknown as string[];
  return {
    secretId: secretId as string,
    date: date as string,
    service: service as string,
    signedHeaders: (signedHeaders as string).split(';'),
    signature: signature as string,
  };
}
