import { describe, expect, it } from 'vitest';
import { signatureHeader, signPayload, verifySignature } from './webhook-signature.ts';

const secret = 'whsec-test';
const now = new Date('2026-11-23T06:00:00Z');

describe('webhook signature', () => {
  it('accepts what it signed', () => {
    expect(verifySignature(signatureHeader(secret, '{"a":1}', now), secret, '{"a":1}', now)).toEqual({
      ok: true,
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
});
