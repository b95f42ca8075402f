import { describe, expect, it } from 'vitest';
import { nextClientToken, retryDelaySeconds } from './retry.ts';

const policy = { baseSeconds: 5, maxSeconds: 300 };

describe('retryDelaySeconds', () => {
  it('grows the ceiling exponentially and caps it', () => {
    const top = () => 0.999999;

    expect([1, 2, 3, 4, 10].map((n) => retryDelaySeconds('throttled', n, policy, top))).toEqual([
      5, 10, 20, 40, 300,
    ]);
  });

  it('jitters below the ceiling for throttling and transient faults', () => {
    expect(retryDelaySeconds('throttled', 3, policy, () => 0)).toBe(1);
    expect(retryDelaySeconds('transient', 3, policy, () => 0.5)).toBe(10);
  });

  it('waits at least the base when the group is busy: an activity takes time', () => {
    expect(retryDelaySeconds('busy', 3, policy, () => 0)).toBe(5);
    expect(retryDelaySeconds('busy', 3, policy, () => 0.999999)).toBe(20);
  });
});

describe('nextClientToken', () => {
  it('keeps the token after an ambiguous failure', () => {
    expect(nextClientToken('req-1', 'req-1', 'transient')).toBe('req-1');
  });

  it('derives a new one after a definitive refusal, then counts up', () => {
    const first = nextClientToken('req-1', 'req-1', 'busy');
    const second = nextClientToken(first, 'req-1', 'throttled');

    expect(first).toMatch(/^[A-Za-z0-9_-]{40}~1$/);
    expect(second).toBe(first.replace(/~1$/, '~2'));
    expect(second.length).toBeLessThanOrEqual(64);
  });

  it('derives different tokens for different requests', () => {
    expect(nextClientToken('a', 'a', 'busy')).not.toBe(nextClientToken('b', 'b', 'busy'));
  });
});
