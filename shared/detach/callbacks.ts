import { type CallbackState, type CompletionEvent, callbackFailureCodeOf } from '../contracts/index.ts';

export type { CallbackState };

import type { Clock, Ledger, StoredRecord } from './ports.ts';
import { type RetryPolicy, retryDelaySeconds } from './retry.ts';

/** Port: POSTs a signed completion event to a caller's URL; throws when the caller does not take it (non-2xx). */
export interface CallbackSender {
  send(url: string, event: CompletionEvent): Promise<void>;
}

export interface CallbackDeps {
  ledger: Ledger;
  clock: Clock;
  callbacks: CallbackSender;
  callbackRetry: RetryPolicy & { maxAttempts: number };
}

/**
 * One delivery attempt. Its failure is recorded on the ledger with the time of the next attempt, which the
 * poller makes; it is never thrown, so a caller's broken endpoint cannot hold back the EventBridge event or
 * the other records of a batch.
 */
export async function deliverCallback(
  deps: CallbackDeps,
  event: CompletionEvent,
  url: string,
  previous: CallbackState | undefined,
): Promise<CallbackState> {
  const attempts = (previous?.attempts ?? 0) + 1;
  const now = deps.clock.now();
  let state: CallbackState;
  try {
    await deps.callbacks.send(url, event);
    state = { url, attempts, deliveredAt: now.toISOString() };
  } catch (error) {
    const lastError = callbackFailureCodeOf(error);
    // A target the sender refuses (a private address, a host not allowed) will not become acceptable by waiting.
    const gaveUp = lastError === 'CallbackRefused' || attempts >= deps.callbackRetry.maxAttempts;
    const delay = retryDelaySeconds('transient', attempts, deps.callbackRetry) * 1000;
    state = gaveUp
      ? { url, attempts, lastError, gaveUpAt: now.toISOString() }
      : { url, attempts, lastError, nextAttemptAt: new Date(now.getTime() + delay).toISOString() };
  }
  await deps.ledger.recordCallback(event.requestId, state, state.nextAttemptAt !== undefined);
  return state;
}

/** A callback the poller should attempt now: retries that are due, or a first attempt its writer never made. */
export function callbackDue(record: StoredRecord, now: Date, graceMs: number): boolean {
  const url = record.request?.callbackUrl;
  if (!url || !record.event || !record.eventPublishedAt) return false;
  const callback = record.callback;
  if (callback?.deliveredAt || callback?.gaveUpAt) return false;
  if (callback?.nextAttemptAt) return Date.parse(callback.nextAttemptAt) <= now.getTime();
  return now.getTime() - Date.parse(record.eventPublishedAt) >= graceMs;
}
