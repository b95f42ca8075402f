import { describe, expect, it } from 'vitest';
import type { OperationRecord } from '../detach/ports.ts';
import { signatureHeader } from '../signing/webhook-signature.ts';
import {
  ALL_ACCOUNTS,
  authenticate,
  type Caller,
  type CallerKeys,
  CallerKeysSchema,
  DEFAULT_CALLER,
  maySee,
  mayUseAccount,
} from './callers.ts';

const now = new Date('2026-12-03T10:00:00Z');
const WEBHOOK_SECRET = 'the-webhook-secret-of-the-stage';
const PREVIOUS_SECRET = 'the-previous-webhook-secret-000';
const TEAM_A_SECRET = 'team-a-secret-0123456789abcdef0123';
const OPS_SECRET = 'ops-secret-0123456789abcdef0123456';
const keys: CallerKeys = {
  callers: [
    { keyId: 'team-a', secret: TEAM_A_SECRET, accounts: ['team-a', 'team-a-dev'] },
    { keyId: 'ops', secret: OPS_SECRET, accounts: '*' },
  ],
};
let keyReads = 0;
const secrets = {
  webhookSecret: async () => ({ current: WEBHOOK_SECRET, previous: PREVIOUS_SECRET }),
  callerKeys: async () => {
    keyReads++;
    return keys;
  },
};
const payload = '{"requestId":"r-1"}';
const signed = (secret: string, keyId?: string, at = now) => signatureHeader(secret, payload, at, keyId);
const scoped = (...accounts: string[]): Caller => ({ keyId: 'k', accounts: new Set(accounts) });

describe('webhook callers', () => {
  describe('authenticate: who signed', () => {
    it('a header without a key id is the default caller, with the webhook secret (current or previous)', async () => {
      const before = keyReads;

      expect(await authenticate(secrets, signed(WEBHOOK_SECRET), payload, now)).toEqual({
        ok: true,
        caller: DEFAULT_CALLER,
        timestamp: now.getTime() / 1000,
      });
      expect((await authenticate(secrets, signed(PREVIOUS_SECRET), payload, now)).ok).toBe(true);
      // The callers parameter is not read for a default caller: producers from before key ids do not depend on it.
      expect(keyReads).toBe(before);
    });

    it('a key id names the caller, signed with its own secret; its accounts come with it', async () => {
      const teamA = await authenticate(secrets, signed(TEAM_A_SECRET, 'team-a'), payload, now);
      const ops = await authenticate(secrets, signed(OPS_SECRET, 'ops'), payload, now);

      expect(teamA).toEqual({
        ok: true,
        caller: { keyId: 'team-a', accounts: new Set(['team-a', 'team-a-dev']) },
        timestamp: now.getTime() / 1000,
      });
      expect(ops).toMatchObject({ ok: true, caller: { keyId: 'ops', accounts: ALL_ACCOUNTS } });
    });

    it("refuses a key id with another key's secret, or the webhook secret, as a mismatch", async () => {
      expect(await authenticate(secrets, signed(OPS_SECRET, 'team-a'), payload, now)).toEqual({
        ok: false,
        reason: 'mismatch',
      });
      expect(await authenticate(secrets, signed(WEBHOOK_SECRET, 'team-a'), payload, now)).toEqual({
        ok: false,
        reason: 'mismatch',
      });
      // A keyed signature with its key id taken off is checked against the webhook secret, and fails.
      expect(await authenticate(secrets, signed(TEAM_A_SECRET), payload, now)).toEqual({
        ok: false,
        reason: 'mismatch',
      });
    });

    it('refuses an unknown key id exactly like a bad signature, whatever it was signed with', async () => {
      const unknownWithAnySecret = await authenticate(secrets, signed(TEAM_A_SECRET, 'nobody'), payload, now);
      const unknownWithWebhookSecret = await authenticate(
        secrets,
        signed(WEBHOOK_SECRET, 'nobody'),
        payload,
        now,
      );
      const noCallersConfigured = await authenticate(
        { webhookSecret: secrets.webhookSecret, callerKeys: undefined },
        signed(TEAM_A_SECRET, 'team-a'),
        payload,
        now,
      );

      for (const answer of [unknownWithAnySecret, unknownWithWebhookSecret, noCallersConfigured])
        expect(answer).toEqual({ ok: false, reason: 'mismatch' });
    });

    it('keeps the replay window: a keyed signature over five minutes old is stale', async () => {
      const old = new Date(now.getTime() - 301_000);

      expect(await authenticate(secrets, signed(TEAM_A_SECRET, 'team-a', old), payload, now)).toEqual({
        ok: false,
        reason: 'stale',
      });
    });

    it('refuses a header with two key ids, an empty one, or one with characters a key id cannot have', async () => {
      const header = signed(TEAM_A_SECRET, 'team-a');

      for (const bad of [
        `keyId=ops,${header}`,
        header.replace('keyId=team-a', 'keyId='),
        `keyId=a b,${header}`,
      ])
        expect(await authenticate(secrets, bad, payload, now)).toEqual({ ok: false, reason: 'malformed' });
      expect(await authenticate(secrets, undefined, payload, now)).toEqual({ ok: false, reason: 'missing' });
    });

    it('without a webhook secret, the default caller cannot be checked', async () => {
      expect(
        await authenticate(
          { webhookSecret: undefined, callerKeys: undefined },
          signed(WEBHOOK_SECRET),
          payload,
          now,
        ),
      ).toEqual({ ok: false, reason: 'not configured' });
    });
  });

  describe('scope: which accounts a caller may use and see', () => {
    it('the default caller and a "*" key may use every account, the deployment\'s own included', () => {
      for (const caller of [DEFAULT_CALLER, { keyId: 'ops', accounts: ALL_ACCOUNTS } as const]) {
        expect(mayUseAccount(caller, undefined)).toBe(true);
        expect(mayUseAccount(caller, 'anything')).toBe(true);
      }
    });

    it('a scoped key may use its accounts only; the deployment\'s own only when its list says "default"', () => {
      expect(mayUseAccount(scoped('team-a'), 'team-a')).toBe(true);
      expect(mayUseAccount(scoped('team-a'), 'team-b')).toBe(false);
      expect(mayUseAccount(scoped('team-a'), undefined)).toBe(false);
      expect(mayUseAccount(scoped('team-a', 'default'), undefined)).toBe(true);
    });

    it("sees a ledger record by its request's account; a record without a request is the deployment's own", () => {
      const record = (account?: string) =>
        ({
          request: {
            requestId: 'r',
            provider: 'aliyun',
            region: 'cn-hangzhou',
            scalingGroupId: 'asg-1',
            instanceIds: ['i-1'],
            preflight: true,
            dryRun: false,
            ...(account && { account }),
          },
        }) as Pick<OperationRecord, 'request'>;

      expect(maySee(scoped('team-a'), record('team-a'))).toBe(true);
      expect(maySee(scoped('team-a'), record('team-b'))).toBe(false);
      expect(maySee(scoped('team-a'), record())).toBe(false);
      expect(maySee(scoped('team-a'), {})).toBe(false);
      expect(maySee(scoped('team-a', 'default'), {})).toBe(true);
    });
  });

  describe('the callers parameter', () => {
    const entry = { keyId: 'team-a', secret: TEAM_A_SECRET, accounts: ['team-a'] };

    it('takes a list of accounts or "*", and refuses a key id used twice, a short secret, an empty list', () => {
      expect(
        CallerKeysSchema.safeParse({ callers: [entry, { ...entry, keyId: 'ops', accounts: '*' }] }).success,
      ).toBe(true);
      const problems = (value: unknown) =>
        CallerKeysSchema.safeParse(value).error?.issues.map((issue) => issue.path.join('.'));

      expect(problems({ callers: [entry, entry] })).toEqual(['callers.1.keyId']);
      expect(problems({ callers: [{ ...entry, secret: 'short' }] })).toEqual(['callers.0.secret']);
      expect(problems({ callers: [{ ...entry, accounts: [] }] })).toEqual(['callers.0.accounts']);
      expect(problems({ callers: [{ ...entry, accounts: ['Team A'] }] })).toEqual(['callers.0.accounts.0']);
      expect(problems({ callers: [{ ...entry, role: 'admin' }] })).toEqual(['callers.0']);
    });

    it('never puts a secret in what it says of a wrong value', () => {
      const error = CallerKeysSchema.safeParse({ callers: [entry, { ...entry, accounts: 'all' }] }).error;

      expect(JSON.stringify(error?.issues.map((issue) => issue.message))).not.toContain(TEAM_A_SECRET);
    });
  });
});
