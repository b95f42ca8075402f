import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import {
  GetParameterCommand,
  ParameterNotFound,
  PutParameterCommand,
  type PutParameterCommandInput,
  SSMClient,
} from '@aws-sdk/client-ssm';
import type * as z from 'zod';
import { EssCredentials } from '../shared/providers/aliyun/ess-client.ts';
import { TencentCredentials } from '../shared/providers/tencent/as-client.ts';
import { SecretPairSchema } from '../shared/signing/webhook-signature.ts';
import { CallerKeysSchema } from '../shared/webhook/callers.ts';
import { CliError, EXIT, runCli } from './cli.ts';

/**
 * npm run setup -- --stage prod --region R [--check] [--kms-key-id KEY]: creates or checks the SSM SecureStrings a
 * stage reads (docs/operations.md "Secrets", docs/deploy.md). Each value is checked against the schema the functions read it
 * with, and never printed: a wrong one is named by its field and what is wrong with it.
 */
const USAGE =
  'usage: npm run setup -- --stage STAGE --region REGION [--check] [--kms-key-id KEY] [--prefix /scaling-detach]';
const HELP = `${USAGE}
Creates or checks the SSM SecureStrings of a stage, in the region it is deployed to:
  <prefix>/<stage>/webhook-secret       {"current","previous"?}  created with a random secret when missing
  <prefix>/<stage>/callback-secret      {"current","previous"?}  created with a random secret when missing
  <prefix>/<stage>/aliyun/credentials   {"accessKeyId","accessKeySecret"}  created from ALIYUN_ACCESS_KEY_ID
                                        and ALIYUN_ACCESS_KEY_SECRET when missing and both are set
  <prefix>/<stage>/tencent/credentials  {"secretId","secretKey"}  optional; from TENCENT_SECRET_ID and
                                        TENCENT_SECRET_KEY when missing and both are set
  <prefix>/<stage>/webhook-callers      {"callers":[{"keyId","secret","accounts"}]}  optional: webhook callers
                                        with keys of their own (docs/accounts.md "Caller keys"); made by hand
Values are checked against the schema the functions read them with, and never printed.
  --check           only check: create nothing
  --kms-key-id KEY  the customer-managed KMS key to encrypt new parameters with (deploy with ssmKmsKey=KEY);
                    default the AWS-managed alias/aws/ssm
Credentials: the usual AWS ones (AWS_PROFILE, AWS_ACCESS_KEY_ID, ...).
Exit status: 0 every required parameter is there with the right shape; 1 one is missing or has the wrong shape;
2 usage, or SSM not reachable.
`;

interface ParameterSpec {
  /** Under <prefix>/<stage>/. */
  suffix: string;
  schema: z.ZodType;
  required: boolean;
  /** The value to create when the parameter is missing, if it can be made here. */
  create: (env: Readonly<Record<string, string | undefined>>) => Record<string, string> | undefined;
  /** How to create it by hand, when it cannot be made here. */
  hint: string;
}

const newSecret = () => ({ current: randomBytes(32).toString('hex') });
const both = (id: string | undefined, secret: string | undefined) => Boolean(id && secret);

export const PARAMETERS: readonly ParameterSpec[] = [
  {
    suffix: 'webhook-secret',
    schema: SecretPairSchema,
    required: true,
    create: newSecret,
    hint: 'a random secret is created unless --check',
  },
  {
    suffix: 'callback-secret',
    schema: SecretPairSchema,
    required: true,
    create: newSecret,
    hint: 'a random secret is created unless --check',
  },
  {
    suffix: 'aliyun/credentials',
    schema: EssCredentials.strict(),
    required: true,
    create: (env) =>
      both(env.ALIYUN_ACCESS_KEY_ID, env.ALIYUN_ACCESS_KEY_SECRET)
        ? {
            accessKeyId: env.ALIYUN_ACCESS_KEY_ID as string,
            accessKeySecret: env.ALIYUN_ACCESS_KEY_SECRET as string,
          }
        : undefined,
    hint: 'set ALIYUN_ACCESS_KEY_ID and ALIYUN_ACCESS_KEY_SECRET and run again',
  },
  {
    suffix: 'tencent/credentials',
    schema: TencentCredentials.strict(),
    required: false,
    create: (env) =>
      both(env.TENCENT_SECRET_ID, env.TENCENT_SECRET_KEY)
        ? { secretId: env.TENCENT_SECRET_ID as string, secretKey: env.TENCENT_SECRET_KEY as string }
        : undefined,
    hint: 'optional (Tencent requests then fail CredentialsNotConfigured); set TENCENT_SECRET_ID and TENCENT_SECRET_KEY and run again',
  },
  {
    suffix: 'webhook-callers',
    schema: CallerKeysSchema,
    required: false,
    create: () => undefined,
    hint: 'optional (only the webhook secret signs requests); create it by hand: docs/accounts.md "Caller keys"',
  },
];

/** The part of SSM this script uses; tests give it a fake. */
export interface ParameterStore {
  /** The parameter's type and decrypted value, or undefined when it does not exist. */
  get(name: string): Promise<{ type: string; value: string } | undefined>;
  /** Creates a SecureString; never overwrites one. */
  create(name: string, value: string, kmsKeyId: string | undefined): Promise<void>;
}

/** What PutParameter is sent for a new parameter: a SecureString, never overwriting, with the key if given. */
export const createCommandInput = (
  name: string,
  value: string,
  kmsKeyId: string | undefined,
): PutParameterCommandInput => ({
  Name: name,
  Value: value,
  Type: 'SecureString',
  Overwrite: false,
  Description: 'scaling-detach (npm run setup)',
  ...(kmsKeyId && { KeyId: kmsKeyId }),
});

export function ssmParameterStore(client: Pick<SSMClient, 'send'>): ParameterStore {
  return {
    async get(name) {
      try {
        const { Parameter } = await client.send(
          new GetParameterCommand({ Name: name, WithDecryption: true }),
        );
        return { type: Parameter?.Type ?? '', value: Parameter?.Value ?? '' };
      } catch (error) {
        if (error instanceof ParameterNotFound || (error as { name?: string }).name === 'ParameterNotFound')
          return undefined;
        throw error;
      }
    },
    async create(name, value, kmsKeyId) {
      await client.send(new PutParameterCommand(createCommandInput(name, value, kmsKeyId)));
    },
  };
}

/**
 * What is wrong with a stored value, without a word of the value: the field paths and the rule each breaks.
 * Undefined when the value is right.
 */
export function shapeProblem(schema: z.ZodType, value: string): string | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch {
    return 'not JSON';
  }
  const result = schema.safeParse(parsed);
  if (result.success) return undefined;
  return result.error.issues
    .map((issue) => {
      const path = issue.path.join('.') || '(root)';
      if (issue.code === 'unrecognized_keys') return `${path}: unexpected field ${issue.keys.join(', ')}`;
      if (issue.code === 'too_small') return `${path}: too short (at least ${issue.minimum})`;
      if (issue.code === 'invalid_type')
        return `${path}: ${issue.input === undefined ? 'missing' : `not a ${issue.expected}`}`;
      return `${path}: invalid`;
    })
    .join('; ');
}

export interface SetupLine {
  name: string;
  state: 'ok' | 'created' | 'missing' | 'wrong-shape' | 'not-secure';
  detail?: string;
  required: boolean;
}

/** Checks each parameter of the stage, and creates what is missing and can be made (unless `check`). */
export async function setUpParameters(
  store: ParameterStore,
  options: {
    prefix: string;
    stage: string;
    check: boolean;
    kmsKeyId?: string | undefined;
    env: Readonly<Record<string, string | undefined>>;
  },
): Promise<SetupLine[]> {
  const lines: SetupLine[] = [];
  for (const spec of PARAMETERS) {
    const name = `${options.prefix}/${options.stage}/${spec.suffix}`;
    const line = (state: SetupLine['state'], detail?: string): SetupLine => ({
      name,
      state,
      required: spec.required,
      ...(detail && { detail }),
    });
    const stored = await store.get(name);
    if (stored) {
      const problem = shapeProblem(spec.schema, stored.value);
      if (problem) lines.push(line('wrong-shape', problem));
      else if (stored.type !== 'SecureString')
        lines.push(line('not-secure', `a ${stored.type}: delete it and run again to have a SecureString`));
      else lines.push(line('ok'));
      continue;
    }
    const value = options.check ? undefined : spec.create(options.env);
    if (!value) {
      lines.push(line('missing', spec.hint));
      continue;
    }
    const problem = shapeProblem(spec.schema, JSON.stringify(value));
    if (problem) {
      lines.push(line('missing', `the value from the environment has the wrong shape: ${problem}`));
      continue;
    }
    await store.create(name, JSON.stringify(value), options.kmsKeyId);
    lines.push(line('created'));
  }
  return lines;
}

export const setupExitCode = (lines: readonly SetupLine[]): number =>
  lines.some((line) => line.required && line.state !== 'ok' && line.state !== 'created') ||
  lines.some((line) => line.state === 'wrong-shape' || line.state === 'not-secure')
    ? EXIT.otherEnd
    : EXIT.succeeded;

if (import.meta.url === `file://${process.argv[1]}`) {
  await runCli(async () => {
    let values: Record<string, string | boolean | undefined>;
    try {
      values = parseArgs({
        options: {
          stage: { type: 'string' },
          region: { type: 'string' },
          check: { type: 'boolean', default: false },
          'kms-key-id': { type: 'string' },
          prefix: { type: 'string', default: '/scaling-detach' },
          help: { type: 'boolean', short: 'h', default: false },
        },
      }).values;
    } catch (error) {
      throw new CliError('Usage', `${(error as Error).message}\n${USAGE}`);
    }
    if (values.help) {
      process.stdout.write(HELP);
      return EXIT.succeeded;
    }
    const stage = values.stage as string | undefined;
    const region =
      (values.region as string | undefined) ?? process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION;
    if (!stage || !region)
      throw new CliError('Usage', `${!stage ? '--stage' : '--region (or AWS_REGION)'} is needed\n${USAGE}`);
    const client = new SSMClient({ region, maxAttempts: 3 });
    try {
      const lines = await setUpParameters(ssmParameterStore(client), {
        prefix: values.prefix as string,
        stage,
        check: values.check as boolean,
        kmsKeyId: values['kms-key-id'] as string | undefined,
        env: process.env,
      });
      for (const line of lines)
        process.stdout.write(
          `${line.name.padEnd(44)} ${line.state}${line.required ? '' : ' (optional)'}${line.detail ? `: ${line.detail}` : ''}\n`,
        );
      process.stdout.write(`(region ${region}: the stage must be deployed to the same region)\n`);
      return setupExitCode(lines);
    } finally {
      client.destroy();
    }
  }, 'cannot reach SSM: check the region and your AWS credentials');
}
