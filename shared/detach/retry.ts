import { createHash } from 'node:crypto';
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

/**
 * The ClientToken of the next attempt. After an ambiguous failure (transient: the call may have reached the
 * cloud) it stays the same, so that the cloud answers with the first result instead of acting twice. After a
 * definitive refusal (busy, throttled: the cloud answered and did nothing) it changes, so that a cloud that
 * remembers a token's refusal cannot answer the retry with it. Derived tokens contain `~`, which request ids
 * cannot, so they never collide with another request's token; they fit ESS's 64 ASCII characters.
 */
export function nextClientToken(current: string, requestId: string, kind: ErrorKind): string {
  if (kind === 'transient') return current;
  const generation = Number(/~(\d+)$/.exec(current)?.[1] ?? 0) + 1;
  const stem = createHash('sha256').update(requestId).digest('base64url').slice(0, 40);
  return `${stem}~${generation}`;
}
