import { describe, expect, it } from 'vitest';
import { parseConfig } from './config.ts';

const base = { LEDGER_TABLE: 't', EVENT_BUS_NAME: 'b' };

describe('parseConfig', () => {
  it('takes SSM-held credentials, applies defaults and treats empty strings as unset', () => {
    const config = parseConfig({
      ...base,
      ALIYUN_CREDENTIALS_PARAMETER: '/p',
      ESS_ENDPOINT: '',
      ALIYUN_ACCESS_KEY_ID: '',
    });

    expect(config).toMatchObject({
      MAX_DELIVERIES: 8,
      MAX_CALL_ATTEMPTS: 8,
      OPERATION_TIMEOUT_SECONDS: 3600,
      ALIYUN_CREDENTIALS_PARAMETER: '/p',
    });
    expect(config.ESS_ENDPOINT).toBeUndefined();
    expect(config.ALIYUN_ACCESS_KEY_ID).toBeUndefined();
  });

  it('fails fast naming every bad variable', () => {
    expect(() => parseConfig({ MAX_ATTEMPTS: 'many', ESS_ENDPOINT: 'not a url' })).toThrow(
      /LEDGER_TABLE.*EVENT_BUS_NAME.*ESS_ENDPOINT.*MAX_ATTEMPTS|LEDGER_TABLE/s,
    );
  });

  it('refuses to start without any Alibaba credentials', () => {
    expect(() => parseConfig(base)).toThrow(/ALIYUN_CREDENTIALS_PARAMETER, or both ALIYUN_ACCESS_KEY_ID/);
  });

  it('never puts a secret value in its error', () => {
    expect(() =>
      parseConfig({
        ...base,
        ALIYUN_ACCESS_KEY_ID: 'id',
        ALIYUN_ACCESS_KEY_SECRET: 'shh',
        MAX_ATTEMPTS: '-1',
      }),
    ).toThrow(expect.objectContaining({ message: expect.not.stringContaining('shh') }));
  });
});

describe('parseConfig: deliveries and call attempts', () => {
  const deployed = { ...base, ALIYUN_CREDENTIALS_PARAMETER: '/p' };

  it('reads MAX_DELIVERIES and MAX_CALL_ATTEMPTS apart', () => {
    const config = parseConfig({ ...deployed, MAX_DELIVERIES: '3', MAX_CALL_ATTEMPTS: '12' });

    expect(config).toMatchObject({ MAX_DELIVERIES: 3, MAX_CALL_ATTEMPTS: 12 });
    expect(config).not.toHaveProperty('MAX_ATTEMPTS');
  });

  it('takes the deprecated MAX_ATTEMPTS as the default of each one not set', () => {
    expect(parseConfig({ ...deployed, MAX_ATTEMPTS: '5' })).toMatchObject({
      MAX_DELIVERIES: 5,
      MAX_CALL_ATTEMPTS: 5,
    });
    expect(parseConfig({ ...deployed, MAX_ATTEMPTS: '5', MAX_DELIVERIES: '' })).toMatchObject({
      MAX_DELIVERIES: 5,
      MAX_CALL_ATTEMPTS: 5,
    });
    expect(parseConfig({ ...deployed, MAX_ATTEMPTS: '5', MAX_CALL_ATTEMPTS: '2' })).toMatchObject({
      MAX_DELIVERIES: 5,
      MAX_CALL_ATTEMPTS: 2,
    });
    expect(parseConfig({ ...deployed, MAX_ATTEMPTS: '5', MAX_DELIVERIES: '7' })).toMatchObject({
      MAX_DELIVERIES: 7,
      MAX_CALL_ATTEMPTS: 5,
    });
  });

  it("refuses deliveries that reach the queues' maxReceiveCount, by either name", () => {
    expect(() => parseConfig({ ...deployed, MAX_DELIVERIES: '10' })).toThrow(
      /MAX_DELIVERIES: .*maxReceiveCount/,
    );
    expect(() => parseConfig({ ...deployed, MAX_ATTEMPTS: '10' })).toThrow(/MAX_ATTEMPTS: .*maxReceiveCount/);
    // Call attempts are not bounded by the queues, and an explicit MAX_DELIVERIES overrides the fallback.
    expect(parseConfig({ ...deployed, MAX_ATTEMPTS: '12', MAX_DELIVERIES: '9' })).toMatchObject({
      MAX_DELIVERIES: 9,
      MAX_CALL_ATTEMPTS: 12,
    });
  });
});

describe('parseConfig: callbacks, secrets and retention', () => {
  const deployed = { ...base, ALIYUN_CREDENTIALS_PARAMETER: '/p' };

  it('defaults to https-only callbacks to public addresses, a 10 s deadline and 90 days of retention', () => {
    const config = parseConfig(deployed);

    expect(config).toMatchObject({
      CALLBACK_REQUIRE_HTTPS: true,
      CALLBACK_ALLOW_PRIVATE_ADDRESSES: false,
      CALLBACK_DEADLINE_MS: 10_000,
      RETENTION_DAYS: 90,
    });
    expect(config.CALLBACK_ALLOWED_HOSTS).toBeUndefined();
  });

  it('reads the flags, the host allowlist (trimmed, lower case) and the retention', () => {
    const config = parseConfig({
      ...deployed,
      CALLBACK_REQUIRE_HTTPS: 'false',
      CALLBACK_ALLOW_PRIVATE_ADDRESSES: 'true',
      CALLBACK_ALLOWED_HOSTS: ' Hooks.Example.com, api.example.org ,',
      RETENTION_DAYS: '30',
    });

    expect(config).toMatchObject({
      CALLBACK_REQUIRE_HTTPS: false,
      CALLBACK_ALLOW_PRIVATE_ADDRESSES: true,
      CALLBACK_ALLOWED_HOSTS: ['hooks.example.com', 'api.example.org'],
      RETENTION_DAYS: 30,
    });
  });

  it('refuses a flag that is not true or false, and a retention of zero days', () => {
    expect(() => parseConfig({ ...deployed, CALLBACK_REQUIRE_HTTPS: 'yes' })).toThrow(
      /CALLBACK_REQUIRE_HTTPS/,
    );
    expect(() => parseConfig({ ...deployed, RETENTION_DAYS: '0' })).toThrow(/RETENTION_DAYS/);
  });
});
