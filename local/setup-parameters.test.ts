import { GetParameterCommand, ParameterNotFound, PutParameterCommand } from '@aws-sdk/client-ssm';
import { describe, expect, it } from 'vitest';
import { SecretPairSchema } from '../shared/signing/webhook-signature.ts';
import {
  type ParameterStore,
  setUpParameters,
  setupExitCode,
  shapeProblem,
  ssmParameterStore,
} from './setup-parameters.ts';

/** There is no SSM here: an in-memory store stands in for it, and the SSM adapter is checked on its commands. */
function memoryStore(initial: Record<string, { type: string; value: string }> = {}) {
  const stored = new Map(Object.entries(initial));
  const created: { name: string; value: string; kmsKeyId: string | undefined }[] = [];
  const store: ParameterStore = {
    get: async (name) => stored.get(name),
    create: async (name, value, kmsKeyId) => {
      created.push({ name, value, kmsKeyId });
      stored.set(name, { type: 'SecureString', value });
    },
  };
  return { store, created, stored };
}

const SECRET_VALUE = 'AKIAsupersecretvalue-never-printed';
const options = { prefix: '/scaling-detach', stage: 'prod', check: false, env: {} };

describe('npm run setup (SSM parameters of a stage)', () => {
  it('creates the two secrets when missing, and reports the cloud keys it cannot make', async () => {
    const { store, created } = memoryStore();

    const lines = await setUpParameters(store, options);

    expect(lines.map((l) => [l.name, l.state])).toEqual([
      ['/scaling-detach/prod/webhook-secret', 'created'],
      ['/scaling-detach/prod/callback-secret', 'created'],
      ['/scaling-detach/prod/aliyun/credentials', 'missing'],
      ['/scaling-detach/prod/tencent/credentials', 'missing'],
      ['/scaling-detach/prod/webhook-callers', 'missing'],
    ]);
    expect(created.map((c) => JSON.parse(c.value).current)).toEqual([
      expect.stringMatching(/^[0-9a-f]{64}$/),
      expect.stringMatching(/^[0-9a-f]{64}$/),
    ]);
    expect(setupExitCode(lines)).toBe(1);
  });

  it('creates the cloud keys from the environment, with the KMS key given', async () => {
    const { store, created } = memoryStore();

    const lines = await setUpParameters(store, {
      ...options,
      kmsKeyId: 'alias/scaling-detach',
      env: {
        ALIYUN_ACCESS_KEY_ID: 'LTAI5tExampleKeyId',
        ALIYUN_ACCESS_KEY_SECRET: SECRET_VALUE,
        TENCENT_SECRET_ID: 'AKIDexample',
        TENCENT_SECRET_KEY: SECRET_VALUE,
      },
    });

    // The callers are never made up: each is a team's key, given out by hand.
    expect(lines.map((l) => l.state)).toEqual(['created', 'created', 'created', 'created', 'missing']);
    expect(setupExitCode(lines)).toBe(0);
    expect(JSON.parse(created[2]?.value ?? '')).toEqual({
      accessKeyId: 'LTAI5tExampleKeyId',
      accessKeySecret: SECRET_VALUE,
    });
    expect(created.every((c) => c.kmsKeyId === 'alias/scaling-detach')).toBe(true);
  });

  it('--check creates nothing', async () => {
    const { store, created } = memoryStore();

    const lines = await setUpParameters(store, { ...options, check: true });

    expect(created).toEqual([]);
    expect(lines.every((l) => l.state === 'missing')).toBe(true);
  });

  it('names what is wrong with a stored value, never the value; a plain String is not accepted', async () => {
    const { store, created } = memoryStore({
      '/scaling-detach/prod/webhook-secret': { type: 'SecureString', value: `{"current":"short"}` },
      '/scaling-detach/prod/callback-secret': { type: 'String', value: `{"current":"${SECRET_VALUE}"}` },
      '/scaling-detach/prod/aliyun/credentials': {
        type: 'SecureString',
        value: `{"accessKeyId":"${SECRET_VALUE}","secret":"${SECRET_VALUE}"}`,
      },
      '/scaling-detach/prod/tencent/credentials': { type: 'SecureString', value: `${SECRET_VALUE}` },
      '/scaling-detach/prod/webhook-callers': {
        type: 'SecureString',
        value: JSON.stringify({ callers: [{ keyId: 'team-a', secret: 'short', accounts: ['team-a'] }] }),
      },
    });

    const lines = await setUpParameters(store, options);

    expect(lines.map((l) => [l.state, l.detail])).toEqual([
      ['wrong-shape', 'current: too short (at least 16)'],
      ['not-secure', expect.stringContaining('a String')],
      ['wrong-shape', 'accessKeySecret: missing; (root): unexpected field secret'],
      ['wrong-shape', 'not JSON'],
      ['wrong-shape', 'callers.0.secret: too short (at least 32)'],
    ]);
    expect(JSON.stringify(lines)).not.toContain(SECRET_VALUE);
    expect(JSON.stringify(lines)).not.toContain('short"');
    expect(created).toEqual([]);
    expect(setupExitCode(lines)).toBe(1);
  });

  it('a stored value of the right shape is ok, and an absent optional Tencent key does not fail', async () => {
    const secret = JSON.stringify({ current: 'a'.repeat(32) });
    const { store } = memoryStore({
      '/scaling-detach/prod/webhook-secret': { type: 'SecureString', value: secret },
      '/scaling-detach/prod/callback-secret': { type: 'SecureString', value: secret },
      '/scaling-detach/prod/aliyun/credentials': {
        type: 'SecureString',
        value: '{"accessKeyId":"LTAI5tExample","accessKeySecret":"x"}',
      },
    });

    const lines = await setUpParameters(store, { ...options, check: true });

    expect(lines.map((l) => l.state)).toEqual(['ok', 'ok', 'ok', 'missing', 'missing']);
    expect(setupExitCode(lines)).toBe(0);
  });

  it('the webhook callers: a scoped and an unscoped key are ok; a key id used twice is refused', async () => {
    const caller = (keyId: string, accounts: string[] | '*') => ({ keyId, secret: SECRET_VALUE, accounts });
    const callers = (list: unknown[]) => ({
      '/scaling-detach/prod/webhook-callers': {
        type: 'SecureString',
        value: JSON.stringify({ callers: list }),
      },
    });
    const stateOf = async (list: unknown[]) => {
      const lines = await setUpParameters(memoryStore(callers(list)).store, { ...options, check: true });
      return lines.find((l) => l.name.endsWith('webhook-callers'));
    };

    expect((await stateOf([caller('team-a', ['team-a', 'default']), caller('ops', '*')]))?.state).toBe('ok');
    expect(await stateOf([caller('team-a', ['team-a']), caller('team-a', ['team-b'])])).toMatchObject({
      state: 'wrong-shape',
      detail: 'callers.1.keyId: invalid',
    });
    expect(JSON.stringify(await stateOf([caller('x', ['Not An Account'])]))).not.toContain(SECRET_VALUE);
  });

  it('shapeProblem accepts a rotation pair and refuses a previous secret too short', () => {
    expect(
      shapeProblem(SecretPairSchema, JSON.stringify({ current: 'x'.repeat(16), previous: 'y'.repeat(16) })),
    ).toBe(undefined);
    expect(shapeProblem(SecretPairSchema, JSON.stringify({ current: 'x'.repeat(16), previous: 'y' }))).toBe(
      'previous: too short (at least 16)',
    );
  });

  describe('the SSM adapter', () => {
    it('reads with decryption, and a missing parameter is undefined', async () => {
      const sent: unknown[] = [];
      const store = ssmParameterStore({
        send: (async (command: unknown) => {
          sent.push(command);
          if ((command as GetParameterCommand).input.Name === '/x/missing')
            throw new ParameterNotFound({ message: 'not found', $metadata: {} });
          return { Parameter: { Type: 'SecureString', Value: '{}' } };
        }) as never,
      });

      expect(await store.get('/x/there')).toEqual({ type: 'SecureString', value: '{}' });
      expect(await store.get('/x/missing')).toBeUndefined();
      expect(sent[0]).toBeInstanceOf(GetParameterCommand);
      expect((sent[0] as GetParameterCommand).input).toEqual({ Name: '/x/there', WithDecryption: true });
    });

    it('creates a SecureString that never overwrites, with the KMS key only when given', async () => {
      const sent: PutParameterCommand[] = [];
      const store = ssmParameterStore({
        send: (async (command: PutParameterCommand) => {
          sent.push(command);
          return {};
        }) as never,
      });

      await store.create('/x/a', '{"current":"v"}', undefined);
      await store.create('/x/b', '{"current":"v"}', 'arn:aws:kms:eu-west-1:123456789012:key/k');

      expect(sent.every((c) => c instanceof PutParameterCommand)).toBe(true);
      expect(sent[0]?.input).toEqual({
        Name: '/x/a',
        Value: '{"current":"v"}',
        Type: 'SecureString',
        Overwrite: false,
        Description: 'scaling-detach (npm run setup)',
      });
      expect(sent[1]?.input.KeyId).toBe('arn:aws:kms:eu-west-1:123456789012:key/k');
    });
  });
});
