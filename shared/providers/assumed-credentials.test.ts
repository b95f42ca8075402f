import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { AssumedCredentials } from './assumed-credentials.ts';

interface Fake {
  token: string;
  expiresAt: Date;
}

/** An STS that counts its calls and answers when told: the clock and the answers are the test's. */
function fakeSts(lifetimeMs = 3_600_000) {
  let now = 1_000_000;
  let calls = 0;
  const waiting: { resolve: (value: Fake) => void; reject: (error: Error) => void; key: string }[] = [];
  return {
    now: () => now,
    advance: (ms: number) => {
      now += ms;
    },
    get calls() {
      return calls;
    },
    assume: (key: string) =>
      new Promise<Fake>((resolve, reject) => {
        calls += 1;
        waiting.push({ resolve, reject, key });
      }),
    answer: () => {
      const next = waiting.shift();
      next?.resolve({ token: `${next.key}-${calls}`, expiresAt: new Date(now + lifetimeMs) });
    },
    fail: () => waiting.shift()?.reject(new Error('STS said no')),
    lifetimeMs,
  };
}

describe('AssumedCredentials', () => {
  it('N concurrent gets for one account make one AssumeRole, and all get its answer', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 50 }), async (n) => {
        const sts = fakeSts();
        const cache = new AssumedCredentials({ assume: sts.assume, now: sts.now });
        const gets = Array.from({ length: n }, () => cache.get('prod'));
        sts.answer();
        const results = await Promise.all(gets);
        expect(sts.calls).toBe(1);
        expect(new Set(results.map((r) => r.token))).toEqual(new Set(['prod-1']));
      }),
    );
  });

  it('keeps accounts apart: one AssumeRole per account', async () => {
    const sts = fakeSts();
    const cache = new AssumedCredentials({ assume: sts.assume, now: sts.now });
    const gets = [cache.get('a'), cache.get('b'), cache.get('a'), cache.get('b')];
    sts.answer();
    sts.answer();
    const tokens = (await Promise.all(gets)).map((r) => r.token);
    expect(sts.calls).toBe(2);
    expect(tokens).toEqual(['a-2', 'b-2', 'a-2', 'b-2']);
  });

  it('serves the cached credentials until shortly before they end, then refreshes once for every caller', async () => {
    const sts = fakeSts();
    const cache = new AssumedCredentials({ assume: sts.assume, now: sts.now, refreshBeforeMs: 300_000 });
    const first = cache.get('prod');
    sts.answer();
    expect((await first).token).toBe('prod-1');
    sts.advance(sts.lifetimeMs - 300_001);
    expect((await cache.get('prod')).token).toBe('prod-1');
    expect(sts.calls).toBe(1);
    sts.advance(1);
    const refreshed = Array.from({ length: 10 }, () => cache.get('prod'));
    sts.answer();
    expect(new Set((await Promise.all(refreshed)).map((r) => r.token))).toEqual(new Set(['prod-2']));
    expect(sts.calls).toBe(2);
  });

  it('refreshes short-lived credentials after three quarters of their life', async () => {
    const sts = fakeSts(60_000);
    const cache = new AssumedCredentials({ assume: sts.assume, now: sts.now, refreshBeforeMs: 300_000 });
    const first = cache.get('prod');
    sts.answer();
    await first;
    sts.advance(44_999);
    await cache.get('prod');
    expect(sts.calls).toBe(1);
    sts.advance(1);
    const second = cache.get('prod');
    sts.answer();
    expect((await second).token).toBe('prod-2');
  });

  it('does not keep a failed AssumeRole: every waiting caller gets the error, the next get tries again', async () => {
    const sts = fakeSts();
    const cache = new AssumedCredentials({ assume: sts.assume, now: sts.now });
    const failing = [cache.get('prod'), cache.get('prod')];
    sts.fail();
    for (const get of failing) await expect(get).rejects.toThrow('STS said no');
    expect(sts.calls).toBe(1);
    const retried = cache.get('prod');
    sts.answer();
    expect((await retried).token).toBe('prod-2');
  });

  it('serves credentials that have not ended while a refresh inside the margin fails', async () => {
    const sts = fakeSts();
    const cache = new AssumedCredentials({ assume: sts.assume, now: sts.now, refreshBeforeMs: 300_000 });
    const first = cache.get('prod');
    sts.answer();
    await first;
    sts.advance(sts.lifetimeMs - 100_000);
    const during = cache.get('prod');
    sts.fail();
    expect((await during).token).toBe('prod-1');
    sts.advance(100_000);
    const after = cache.get('prod');
    sts.fail();
    await expect(after).rejects.toThrow('STS said no');
  });

  it('invalidate drops only the refused credentials: of many refused callers, one refresh', async () => {
    const sts = fakeSts();
    const cache = new AssumedCredentials({ assume: sts.assume, now: sts.now });
    const first = cache.get('prod');
    sts.answer();
    const refused = await first;
    cache.invalidate('prod', (cached) => cached.token === refused.token);
    const again = Array.from({ length: 10 }, () => cache.get('prod'));
    sts.answer();
    const fresh = (await Promise.all(again))[0] as Fake;
    // The other nine callers refused with the old token come late: the fresh credentials stay.
    for (let i = 0; i < 9; i++) cache.invalidate('prod', (cached) => cached.token === refused.token);
    expect((await cache.get('prod')).token).toBe(fresh.token);
    expect(sts.calls).toBe(2);
  });

  it('an invalidated account is not served from the old credentials when the refresh fails', async () => {
    const sts = fakeSts();
    const cache = new AssumedCredentials({ assume: sts.assume, now: sts.now });
    const first = cache.get('prod');
    sts.answer();
    await first;
    cache.invalidate('prod');
    const next = cache.get('prod');
    sts.fail();
    await expect(next).rejects.toThrow('STS said no');
  });
});
