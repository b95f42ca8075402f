import { describe, expect, it } from 'vitest';
import {
  composePoller,
  composeRecordDelivery,
  composeRequestFunction,
  composeWebhook,
} from './composition.ts';

/**
 * Each kind of function builds only the adapters it uses: what a composition root does not build, its
 * function's bundle does not hold (BENCHMARKS.md P5). Building makes no call: clients connect on first use.
 */
const env = {
  LEDGER_TABLE: 'operations',
  EVENT_BUS_NAME: 'bus',
  ALIYUN_CREDENTIALS_PARAMETER: '/scaling-detach/test/aliyun/credentials',
  WEBHOOK_SECRET_PARAMETER: '/scaling-detach/test/webhook-secret',
  CALLBACK_SECRET_PARAMETER: '/scaling-detach/test/callback-secret',
};
const keysOf = (composed: object) => Object.keys(composed).sort();

describe('composition roots', () => {
  it('record-delivery: the ledger alone', () => {
    expect(keysOf(composeRecordDelivery(env))).toEqual(['config', 'ledger']);
  });

  it('webhook: ledger, bus, request queues and its own secret; no cloud client, no callbacks', () => {
    const webhook = composeWebhook(env);
    expect(keysOf(webhook)).toEqual([
      'clock',
      'config',
      'ledger',
      'publisher',
      'requestQueue',
      'webhookSecret',
    ]);
    expect(webhook.webhookSecret).toBeTypeOf('function');
  });

  it('webhook: the keyed callers only when configured; a local value of the wrong shape is named, never shown', async () => {
    const secret = 'team-a-secret-0123456789abcdef0123';
    const callers = { callers: [{ keyId: 'team-a', secret, accounts: ['team-a'] }] };
    const fromParameter = composeWebhook({
      ...env,
      WEBHOOK_CALLERS_PARAMETER: '/scaling-detach/test/webhook-callers',
    });
    const local = composeWebhook({ ...env, WEBHOOK_CALLERS: JSON.stringify(callers) });
    const wrong = composeWebhook({
      ...env,
      WEBHOOK_CALLERS: JSON.stringify({ callers: [{ keyId: 'x', secret }] }),
    });

    expect(keysOf(fromParameter)).toContain('callerKeys');
    expect(await local.callerKeys?.()).toEqual(callers);
    const error = await wrong.callerKeys?.().catch((thrown: unknown) => thrown);
    expect(error).toMatchObject({ code: 'CredentialsNotConfigured', kind: 'fatal' });
    expect(String((error as Error).message)).not.toContain(secret);
  });

  it('poller: the dispatcher with both clouds and the callbacks; no queue', () => {
    const poller = composePoller(env);
    expect(keysOf(poller)).toEqual([
      'activityHoldMs',
      'callbacks',
      'clock',
      'config',
      'leaseMs',
      'ledger',
      'maxCallAttempts',
      'providers',
      'publisher',
      'retry',
      'settleMs',
    ]);
    expect(Object.keys(poller.providers).sort()).toEqual(['aliyun', 'tencent']);
  });

  it('poller with a next-pass queue: also what sends its next pass', () => {
    const poller = composePoller({ ...env, POLL_NEXT_QUEUE_URL: 'https://sqs.example/1/poll-next.fifo' });
    expect(typeof poller.scheduleNextPass).toBe('function');
  });

  it('request functions: the dispatcher and the retry delay of their queue; no webhook secret', () => {
    expect(keysOf(composeRequestFunction(env))).toEqual([
      'activityHoldMs',
      'callbacks',
      'clock',
      'config',
      'leaseMs',
      'ledger',
      'maxCallAttempts',
      'providers',
      'publisher',
      'retry',
      'retryDelay',
      'settleMs',
    ]);
  });

  it('without a callback secret, no callbacks', () => {
    const { CALLBACK_SECRET_PARAMETER: _, ...withoutCallbacks } = env;
    expect(composePoller(withoutCallbacks)).not.toHaveProperty('callbacks');
  });

  it('with an account registry (ACCOUNTS_PARAMETER), the dispatchers also get the member accounts', () => {
    const withAccounts = { ...env, ACCOUNTS_PARAMETER: '/scaling-detach/test/accounts' };
    expect(composePoller(withAccounts).accountProviders).toBeTypeOf('function');
    expect(composeRequestFunction(withAccounts).accountProviders).toBeTypeOf('function');
    expect(composeRequestFunction(withAccounts).accounts).toBeDefined();
    expect(composeWebhook(withAccounts).accounts).toBeDefined();
    expect(composePoller(env)).not.toHaveProperty('accountProviders');
    expect(composeWebhook(env)).not.toHaveProperty('accounts');
  });

  it('an inline registry (ACCOUNTS, the local stack) is checked at once, and each account gets its own provider', async () => {
    const registry = {
      accounts: [
        { name: 'shop', cloud: 'aliyun', roleArn: 'acs:ram::1234567890123456:role/scaling-detach' },
        { name: 'games', cloud: 'tencent', roleArn: 'qcs::cam::uin/100012345678:roleName/scaling-detach' },
      ],
    };
    const composed = composeRequestFunction({ ...env, ACCOUNTS: JSON.stringify(registry) });
    const providers = composed.accountProviders;
    if (!providers) throw new Error('no account providers');
    expect(providers('aliyun', 'shop')).toBe(providers('aliyun', 'shop'));
    expect(providers('aliyun', 'shop')).not.toBe(composed.providers.aliyun);
    expect(providers('tencent', 'games')).not.toBe(providers('tencent', 'other'));
    await expect(
      composed.accounts?.refusal({ provider: 'tencent', region: 'ap-guangzhou', account: 'shop' }),
    ).resolves.toMatchObject({ code: 'AccountCloudMismatch' });
    expect(() => composeRequestFunction({ ...env, ACCOUNTS: '{"accounts":[{"name":"x"}]}' })).toThrow(
      /Invalid account registry/,
    );
  });
});
