import type { LookupFunction } from 'node:net';
import { Agent, request } from 'undici';
import type { Config } from '../config.ts';
import type { CallbackFailureCode, CompletionEvent } from '../contracts/index.ts';
import type { CallbackSender } from '../detach/callbacks.ts';
import { DetachError } from '../errors.ts';
import {
  type SecretPair,
  SIGNATURE_HEADER,
  secretsOf,
  signatureHeader,
} from '../signing/webhook-signature.ts';
import { guardedLookup, isRefusedAddress, RefusedAddressError } from './callback-address-guard.ts';

export interface CallbackPolicy {
  /** Deployed stages: https only. */
  requireHttps: boolean;
  /** Local stages only: receivers on 127.0.0.1. */
  allowPrivateAddresses: boolean;
  /** Lower-case host names callbacks may go to; undefined: any host. */
  allowedHosts?: readonly string[];
  /** Connect, send and answer of one callback, all told. */
  deadlineMs: number;
}

export const callbackPolicyOf = (config: Config): CallbackPolicy => ({
  requireHttps: config.CALLBACK_REQUIRE_HTTPS,
  allowPrivateAddresses: config.CALLBACK_ALLOW_PRIVATE_ADDRESSES,
  deadlineMs: config.CALLBACK_DEADLINE_MS,
  ...(config.CALLBACK_ALLOWED_HOSTS && { allowedHosts: config.CALLBACK_ALLOWED_HOSTS }),
});

/**
 * What the ledger and the status API keep of a failed callback: one of these codes, never the receiver's answer
 * or the network's error text (which would make the callback a port scanner of whatever the URL names).
 */
export const CALLBACK_FAILURES: Record<Exclude<CallbackFailureCode, 'CallbackFailed'>, string> = {
  CallbackRefused: 'The callback URL is not allowed (scheme, host or address).',
  CallbackTimedOut: 'The callback did not complete within its deadline.',
  CallbackHttpStatus: 'The callback receiver answered with a status other than 2xx.',
  CallbackUnreachable: 'The callback receiver could not be reached.',
};
type CallbackFailure = keyof typeof CALLBACK_FAILURES;

const failure = (code: CallbackFailure, cause?: unknown) =>
  new DetachError(code, CALLBACK_FAILURES[code], code === 'CallbackRefused' ? 'fatal' : 'transient', {
    ...(cause !== undefined && { cause }),
  });

/**
 * POSTs the completion event as JSON, signed with the callback secret (a second v1 with the previous one while
 * it is rotated). Its own connection pool: the address guard sits in its lookup, checked on every connection.
 */
export class HttpCallbackSender implements CallbackSender {
  readonly #httpAgent: Agent;

  constructor(
    private readonly secrets: () => Promise<SecretPair>,
    private readonly policy: CallbackPolicy,
    options: { connectTimeoutMs?: number; lookup?: LookupFunction } = {},
  ) {
    const lookup = policy.allowPrivateAddresses ? options.lookup : guardedLookup(options.lookup);
    this.#httpAgent = new Agent({
      connections: 8,
      connect: { timeout: options.connectTimeoutMs ?? 3000, ...(lookup && { lookup }) },
      headersTimeout: policy.deadlineMs,
      bodyTimeout: policy.deadlineMs,
    });
  }

  async send(url: string, event: CompletionEvent): Promise<void> {
    this.#check(url);
    const body = JSON.stringify(event);
    const deadline = AbortSignal.timeout(this.policy.deadlineMs);
    let status: number;
    try {
      const response = await request(url, {
        method: 'POST',
        dispatcher: this.#httpAgent,
        headers: {
          'content-type': 'application/json',
          [SIGNATURE_HEADER]: signatureHeader(secretsOf(await this.secrets()), body),
        },
        body,
        signal: deadline,
      });
      status = response.statusCode;
      // The answer's body is read (to reuse the connection) under the same deadline, and thrown away.
      await response.body.dump({ signal: deadline, limit: 65_536 });
    } catch (error) {
      if (deadline.aborted) throw failure('CallbackTimedOut', error);
      if (isRefusal(error)) throw failure('CallbackRefused', error);
      throw failure('CallbackUnreachable', error);
    }
    if (status < 200 || status >= 300) throw failure('CallbackHttpStatus');
  }

  /** Scheme, allowlist and a literal address: what can be refused before any connection. */
  #check(url: string): void {
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch (error) {
      throw failure('CallbackRefused', error);
    }
    const schemes = this.policy.requireHttps ? ['https:'] : ['https:', 'http:'];
    const host = parsed.hostname.replace(/^\[(.*)\]$/, '$1').toLowerCase();
    if (
      !schemes.includes(parsed.protocol) ||
      parsed.username !== '' ||
      parsed.password !== '' ||
      (this.policy.allowedHosts !== undefined && !this.policy.allowedHosts.includes(host)) ||
      // An IP literal connects without a lookup, so it is checked here.
      (!this.policy.allowPrivateAddresses && /^[\d.]+$|:/.test(host) && isRefusedAddress(host))
    ) {
      throw failure('CallbackRefused');
    }
  }
}

const isRefusal = (error: unknown): boolean => {
  for (let cause = error; cause instanceof Error; cause = cause.cause) {
    if (cause instanceof RefusedAddressError) return true;
    if (cause instanceof AggregateError && cause.errors.some((inner) => isRefusal(inner))) return true;
  }
  return false;
};
