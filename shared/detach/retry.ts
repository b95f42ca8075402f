import type { ErrorKind } from '../errors.ts';

export interface RetryPolicy {
  /** Delay before the second delivery; grows exponentially with each further one. */
  baseSeconds: number;
  maxSeconds: number;
}

/**
 * Seconds until the next delivery, "full jitter" (a random point below an exponential ceiling), so that many
 * requests refused together do not come back together. Busy waits at least the base: an activity takes time.
 */
export function retryDelaySeconds(
  kind: ErrorKind,
  receiveCount: number,
  policy: RetryPolicy,
  random: () => number = Math.random,
): number {
  const ceiling = Math.min(policy.maxSeconds, policy.baseSeconds * 2 ** Math.max(0, receiveCount - 1));
  const floor = kind === 'busy' ? Math.min(policy.baseSeconds, ceiling) : 0;
  return Math.max(1, Math.round(floor + random() * (ceiling - floor)));
}
