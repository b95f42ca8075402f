import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import * as z from 'zod';

/**
 * The webhook and callback signature, the scheme Stripe uses: header `t=<unix seconds>,v1=<hex>[,v1=<hex>...]`
 * where v1 = HMAC-SHA256(secret, `${t}.${payload}`). The payload is the raw body; for a GET, `GET <path>`.
 * Several v1 entries let a signer sign with a new and an old secret while a secret is rotated. A webhook caller
 * with a key of its own names it first: `keyId=<id>,t=...,v1=...` (docs/accounts.md "Caller keys").
 */
export const SIGNATURE_HEADER = 'x-scaling-detach-signature';
export const TOLERANCE_SECONDS = 300;
/** More v1 entries than this is not a rotation: the header is refused as malformed. */
const MAX_SIGNATURES = 8;

/**
 * The secrets of one direction, as a pair is stored (an SSM SecureString of JSON): `current` signs; `previous`,
 * while a rotation lasts, is still accepted.
 */
export const SecretPairSchema = z.strictObject({
  current: z.string().min(16),
  previous: z.string().min(16).optional(),
});
export type SecretPair = z.infer<typeof SecretPairSchema>;

export const secretsOf = (pair: SecretPair): string[] =>
  pair.previous === undefined ? [pair.current] : [pair.current, pair.previous];

export const signPayload = (secret: string, timestamp: number, payload: string): string =>
  createHmac('sha256', secret).update(`${timestamp}.${payload}`, 'utf8').digest('hex');

/** What a caller's key id can be: it travels in a header and is shown in logs. */
export const KEY_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/** Signs with each secret given, in order (one v1 each); with a key id, names it first. */
export const signatureHeader = (
  secrets: string | readonly string[],
  payload: string,
  now: Date = new Date(),
  keyId?: string,
): string => {
  const timestamp = Math.floor(now.getTime() / 1000);
  const signatures = (typeof secrets === 'string' ? [secrets] : secrets).map(
    (secret) => `v1=${signPayload(secret, timestamp, payload)}`,
  );
  return [...(keyId === undefined ? [] : [`keyId=${keyId}`]), `t=${timestamp}`, ...signatures].join(',');
};

const entriesOf = (header: string) =>
  header.split(',').map((part) => {
    const [key, ...rest] = part.trim().split('=');
    return [key ?? '', rest.join('=')] as const;
  });

/**
 * The key id a header names: undefined when it names none (the default caller); malformed when it names more
 * than one, or one that cannot be a key id. Says nothing of the signature: verifySignature checks that.
 */
export function keyIdOf(
  header: string | undefined,
): { ok: true; keyId: string | undefined } | { ok: false; reason: 'malformed' } {
  const keyIds = (header ? entriesOf(header) : [])
    .filter(([key]) => key === 'keyId')
    .map(([, value]) => value);
  if (keyIds.length === 0) return { ok: true, keyId: undefined };
  return keyIds.length === 1 && KEY_ID.test(keyIds[0] as string)
    ? { ok: true, keyId: keyIds[0] }
    : { ok: false, reason: 'malformed' };
}

export type VerifyResult =
  | { ok: true; timestamp: number }
  | { ok: false; reason: 'missing' | 'malformed' | 'stale' | 'mismatch' };

/** Accepted when any v1 of the header is the signature of any of the secrets (a rotation's old and new). */
export function verifySignature(
  header: string | undefined,
  secrets: string | readonly string[],
  payload: string,
  now: Date = new Date(),
): VerifyResult {
  if (!header) return { ok: false, reason: 'missing' };
  const entries = entriesOf(header);
  const timestamps = entries.filter(([key]) => key === 't').map(([, value]) => Number(value));
  const given = entries.filter(([key]) => key === 'v1').map(([, value]) => value);
  const timestamp = timestamps[0] as number;
  if (
    timestamps.length !== 1 ||
    !Number.isInteger(timestamp) ||
    given.length === 0 ||
    given.length > MAX_SIGNATURES ||
    !given.every((signature) => /^[0-9a-f]{64}$/.test(signature))
  ) {
    return { ok: false, reason: 'malformed' };
  }
  if (Math.abs(now.getTime() / 1000 - timestamp) > TOLERANCE_SECONDS) return { ok: false, reason: 'stale' };
  const expected = (typeof secrets === 'string' ? [secrets] : secrets).map((secret) =>
    Buffer.from(signPayload(secret, timestamp, payload), 'hex'),
  );
  const matches = given.some((signature) => {
    const candidate = Buffer.from(signature, 'hex');
    return expected.some((digest) => timingSafeEqual(digest, candidate));
  });
  return matches ? { ok: true, timestamp } : { ok: false, reason: 'mismatch' };
}

/**
 * A name for what was signed (timestamp and payload), the same for every replay of one signed message: a replay
 * can change the header's order or add v1 entries, but not these two without failing the signature.
 */
export const signedMessageDigest = (timestamp: number, payload: string): string =>
  createHash('sha256').update(`${timestamp}.${payload}`, 'utf8').digest('hex');
