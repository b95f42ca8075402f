import { describe, expect, it } from 'vitest';
import {
  keyIdOf,
  signatureHeader,
  signedMessageDigest,
  signPayload,
  verifySignature,
} from './webhook-signature.ts';

const secret = 'whsec-test';
const now = new Date('2026-11-23T06:00:00Z');
const timestamp = Math.floor(now.getTime() / 1000);

describe('webhook signature', () => {
  it('accepts what it signed', () => {
    expect(verifySignature(signatureHeader(secret, '{"a":1}', now), secret, '{"a":1}', now)).toEqual({
      ok: true,
      timestamp,
    });
  });

  it('is HMAC-SHA256 over "<t>.<payload>" in hex (vector computed with Python hmac)', () => {
    expect(signPayload('secret', 1700000000, 'body')).toBe(
      '42ac6f0448c1d9c3e1e82b9726248f58fef84afffcbad5188246e96070e0ea46',
    );
  });

  it('refuses a changed body, another secret, a missing or malformed header, and a timestamp over 5 minutes off', () => {
    const header = signatureHeader(secret, 'body', now);
    const later = new Date(now.getTime() + 301_000);

    expect(verifySignature(header, secret, 'body!', now)).toEqual({ ok: false, reason: 'mismatch' });
    expect(verifySignature(header, 'other', 'body', now)).toEqual({ ok: false, reason: 'mismatch' });
    expect(verifySignature(undefined, secret, 'body', now)).toEqual({ ok: false, reason: 'missing' });
    expect(verifySignature('v1=abc', secret, 'body', now)).toEqual({ ok: false, reason: 'malformed' });
    expect(verifySignature(header, secret, 'body', later)).toEqual({ ok: false, reason: 'stale' });
  });

  it('accepts any v1 of the header, not only the last: a signer rotating its secret sends both', () => {
    const signedWithNewAndOld = signatureHeader(['new-secret', 'old-secret'], 'body', now);
    const oldFirst = signatureHeader(['old-secret', 'new-secret'], 'body', now);

    expect(signedWithNewAndOld.match(/v1=/g)).toHaveLength(2);
    expect(verifySignature(signedWithNewAndOld, 'old-secret', 'body', now).ok).toBe(true);
    expect(verifySignature(signedWithNewAndOld, 'new-secret', 'body', now).ok).toBe(true);
    expect(verifySignature(oldFirst, 'new-secret', 'body', now).ok).toBe(true);
    expect(verifySignature(signedWithNewAndOld, 'third-secret', 'body', now)).toEqual({
      ok: false,
      reason: 'mismatch',
    });
  });

  it('accepts a header signed with either of two configured secrets (current and previous)', () => {
    const configured = ['current-secret', 'previous-secret'];

    expect(verifySignature(signatureHeader('current-secret', 'b', now), configured, 'b', now).ok).toBe(true);
    expect(verifySignature(signatureHeader('previous-secret', 'b', now), configured, 'b', now).ok).toBe(true);
    expect(verifySignature(signatureHeader('retired-secret', 'b', now), configured, 'b', now).ok).toBe(false);
  });

  it('refuses two timestamps, a malformed v1 beside a good one, and more than eight v1 entries', () => {
    const header = signatureHeader(secret, 'body', now);
    const good = header.split(',')[1] as string;

    expect(verifySignature(`${header},t=${timestamp + 1}`, secret, 'body', now).ok).toBe(false);
    expect(verifySignature(`${header},v1=zz`, secret, 'body', now)).toEqual({
      ok: false,
      reason: 'malformed',
    });
    expect(verifySignature(`t=${timestamp},${Array(9).fill(good).join(',')}`, secret, 'body', now)).toEqual({
      ok: false,
      reason: 'malformed',
    });
  });

  it('names a signed message the same way for every replay, and differently for another time or body', () => {
    expect(signedMessageDigest(timestamp, 'body')).toBe(signedMessageDigest(timestamp, 'body'));
    expect(signedMessageDigest(timestamp, 'body')).not.toBe(signedMessageDigest(timestamp + 1, 'body'));
    expect(signedMessageDigest(timestamp, 'body')).not.toBe(signedMessageDigest(timestamp, 'body2'));
  });

  it("names a caller's key id first when given one, and the signature stays the same HMAC", () => {
    const keyed = signatureHeader(secret, 'body', now, 'team-a');

    expect(keyed).toBe(`keyId=team-a,${signatureHeader(secret, 'body', now)}`);
    expect(verifySignature(keyed, secret, 'body', now)).toEqual({ ok: true, timestamp });
  });

  it('reads the key id of a header: none, one, or malformed (two, empty, or characters a key id cannot have)', () => {
    const header = signatureHeader(secret, 'body', now);

    expect(keyIdOf(header)).toEqual({ ok: true, keyId: undefined });
    expect(keyIdOf(undefined)).toEqual({ ok: true, keyId: undefined });
    expect(keyIdOf(`keyId=team-a.prod_1,${header}`)).toEqual({ ok: true, keyId: 'team-a.prod_1' });
    // Anywhere in the header, with spaces after the commas as some clients write them.
    expect(keyIdOf(`${header}, keyId=team-a`)).toEqual({ ok: true, keyId: 'team-a' });
    for (const bad of [
      `keyId=a,keyId=b,${header}`,
      `keyId=,${header}`,
      `keyId=-a,${header}`,
      `keyId=a=b,${header}`,
      `keyId=${'k'.repeat(65)},${header}`,
    ])
      expect(keyIdOf(bad)).toEqual({ ok: false, reason: 'malformed' });
  });
});
