import * as z from 'zod';
import type { StoredRecord } from '../detach/ports.ts';
import {
  KEY_ID,
  keyIdOf,
  type SecretPair,
  secretsOf,
  signPayload,
  type VerifyResult,
  verifySignature,
} from '../signing/webhook-signature.ts';

/**
 * Webhook callers and the accounts each may act on (issue #21; docs/accounts.md "Caller keys"). A caller signs
 * with a key of its own, named in the signature header (`keyId=<id>,t=...,v1=...`); a header without a key id is
 * the default caller, signed with the webhook secret, which may use every account (so producers from before key
 * ids keep working).
 */

/** In a caller's list, the deployment's own account: what a request without `account` acts in. */
export const OWN_ACCOUNT = 'default';
/** Instead of a list: every account, the deployment's own included. */
export const ALL_ACCOUNTS = '*';

const AccountName = z
  .string()
  .regex(/^[a-z0-9-]{1,32}$/, 'must be an account name (1-32 of a-z 0-9 -), or "default"');

/** One caller as stored: its key id, its secret, and the accounts its requests may name. */
export const CallerKey = z.strictObject({
  keyId: z.string().regex(KEY_ID, 'must be 1-64 of A-Z a-z 0-9 . _ -, starting with a letter or digit'),
  secret: z.string().min(32, 'must be at least 32 characters'),
  accounts: z.union([z.literal(ALL_ACCOUNTS), z.array(AccountName).min(1)]),
});
export type CallerKey = z.infer<typeof CallerKey>;

/** The callers parameter (an SSM SecureString of JSON): key ids are unique. */
export const CallerKeysSchema = z
  .strictObject({ callers: z.array(CallerKey).max(1000) })
  .superRefine((value, context) => {
    const seen = new Set<string>();
    for (const [index, caller] of value.callers.entries()) {
      if (seen.has(caller.keyId))
        context.addIssue({
          code: 'custom',
          path: ['callers', index, 'keyId'],
          message: `the key id ${caller.keyId} is used twice`,
        });
      seen.add(caller.keyId);
    }
  });
export type CallerKeys = z.infer<typeof CallerKeysSchema>;

/** Who signed a request, and what it may act on. Never its secret. */
export interface Caller {
  /** Undefined: the default caller. */
  keyId: string | undefined;
  accounts: typeof ALL_ACCOUNTS | ReadonlySet<string>;
}

export const DEFAULT_CALLER: Caller = { keyId: undefined, accounts: ALL_ACCOUNTS };

export type Authentication =
  | { ok: true; caller: Caller; timestamp: number }
  | { ok: false; reason: Exclude<VerifyResult, { ok: true }>['reason'] | 'not configured' };

export interface CallerSecrets {
  /** The webhook secret (current and previous): the default caller's. */
  webhookSecret: (() => Promise<SecretPair>) | undefined;
  /** The keyed callers; read only for a header that names a key. */
  callerKeys: (() => Promise<CallerKeys>) | undefined;
}

/**
 * A well-formed secret no caller has: an unknown key id is checked against it, so that it costs what a known one
 * does and is refused the same way (`mismatch`): answers do not tell which key ids exist.
 */
const NO_SUCH_KEY = signPayload('scaling-detach', 0, 'no such key');

/** Who signed the request: the default caller, or a keyed one; refused as the header's fault otherwise. */
export async function authenticate(
  secrets: CallerSecrets,
  header: string | undefined,
  payload: string,
  now: Date,
): Promise<Authentication> {
  const named = keyIdOf(header);
  if (!named.ok) return named;
  if (named.keyId === undefined) {
    const pair = secrets.webhookSecret ? await secrets.webhookSecret() : undefined;
    if (!pair) return { ok: false, reason: 'not configured' };
    const verified = verifySignature(header, secretsOf(pair), payload, now);
    return verified.ok ? { ok: true, caller: DEFAULT_CALLER, timestamp: verified.timestamp } : verified;
  }
  const keys = secrets.callerKeys ? await secrets.callerKeys() : { callers: [] };
  const key = keys.callers.find((caller) => caller.keyId === named.keyId);
  const verified = verifySignature(header, key?.secret ?? NO_SUCH_KEY, payload, now);
  if (!verified.ok) return verified;
  if (!key) return { ok: false, reason: 'mismatch' };
  return {
    ok: true,
    caller: {
      keyId: key.keyId,
      accounts: key.accounts === ALL_ACCOUNTS ? ALL_ACCOUNTS : new Set(key.accounts),
    },
    timestamp: verified.timestamp,
  };
}

/** Whether the caller may act on (or see) the account; no account is the deployment's own. */
export const mayUseAccount = (caller: Caller, account: string | undefined): boolean =>
  caller.accounts === ALL_ACCOUNTS || caller.accounts.has(account ?? OWN_ACCOUNT);

/** Whether the caller may see a ledger record: one of its accounts' requests (a rejected one's by its event). */
export const maySee = (
  caller: Caller,
  record: { request?: StoredRecord['request']; event?: { account?: string | undefined } | undefined },
): boolean => mayUseAccount(caller, record.request?.account ?? record.event?.account);
