import { describe, expect, it } from 'vitest';
import { retryDelaySeconds } from './retry.ts';

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
