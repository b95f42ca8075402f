import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { CliError, EXIT, runCli } from './cli.ts';

/**
 * npm run package / npm run deploy: `serverless package|deploy` for a stage and region of your choice.
 *   npm run package -- [--stage prod] [--region R] [any other serverless option, e.g. --param="k=v"]
 *   npm run deploy -- [--stage prod] [--region R] [--param="alarmTopicArn=arn:..."]
 * The region is --region, else AWS_REGION, else AWS_DEFAULT_REGION; without any of them it stops (exit 2)
 * rather than pick one: the SSM parameters live in the region deployed to. The stage defaults to prod.
 * After a deploy, the stack's outputs (webhook URL, queue URLs, bus and table names) are printed.
 */
const ROOT = fileURLToPath(new URL('..', import.meta.url));
const COMMANDS = ['package', 'deploy'] as const;
type Command = (typeof COMMANDS)[number];

export const stageUsage = (command: string) =>
  `usage: npm run ${command} -- [--stage STAGE (prod)] [--region REGION (AWS_REGION, AWS_DEFAULT_REGION)] [serverless options]`;

/** The stage and region a deployment goes to, and the options passed on to serverless as they are. */
export function stageOptions(
  command: string,
  args: readonly string[],
  env: Readonly<Record<string, string | undefined>>,
): { stage: string; region: string; rest: string[] } | 'help' {
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse(args);
  } catch (error) {
    throw new CliError('Usage', `${(error as Error).message}\n${stageUsage(command)}`);
  }
  if (parsed.values.help) return 'help';
  const stage = parsed.values.stage ?? 'prod';
  const region =
    parsed.values.region ?? (env.AWS_REGION || undefined) ?? (env.AWS_DEFAULT_REGION || undefined);
  if (!region)
    throw new CliError(
      'NoRegion',
      `no region: pass --region (e.g. npm run ${command} -- --region eu-west-1) or set AWS_REGION; the SSM parameters must live in that region`,
    );
  if (!/^[a-z]{2}(-[a-z]+)+-\d$/.test(region))
    throw new CliError('BadRegion', `"${region}" is not an AWS region (such as eu-west-1)`);
  if (!/^[A-Za-z0-9-]{1,16}$/.test(stage))
    throw new CliError('BadStage', `"${stage}" is not a stage name (letters, digits and -, at most 16)`);
  if (stage === 'local')
    throw new CliError('LocalStage', 'the local stage is npm start, not a deployment: pass another --stage');
  return { stage, region, rest: parsed.tokens };
}

function parse(args: readonly string[]) {
  const { values, tokens } = parseArgs({
    args: [...args],
    strict: false,
    tokens: true,
    options: {
      stage: { type: 'string', short: 's' },
      region: { type: 'string', short: 'r' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  for (const name of ['stage', 'region'] as const) {
    if (values[name] !== undefined && typeof values[name] !== 'string')
      throw new Error(`--${name} needs a value`);
  }
  // Everything but our own options, as given.
  const ours = new Set(['stage', 'region', 'help']);
  const rest: string[] = [];
  for (const token of tokens) {
    if (token.kind === 'option' && ours.has(token.name)) continue;
    if (token.kind === 'positional') rest.push(token.value);
    else if (token.kind === 'option-terminator') rest.push('--');
    else if (token.value === undefined) rest.push(token.rawName);
    else if (token.inlineValue) rest.push(`${token.rawName}=${token.value}`);
    else rest.push(token.rawName, token.value);
  }
  return { values: values as { stage?: string; region?: string; help?: boolean }, tokens: rest };
}

const serverless = (args: string[]) =>
  spawnSync(process.execPath, ['node_modules/serverless/bin/serverless.js', ...args], {
    cwd: ROOT,
    stdio: 'inherit',
    env: { ...process.env, SLS_TELEMETRY_DISABLED: '1' },
  }).status ?? EXIT.otherEnd;

if (import.meta.url === `file://${process.argv[1]}`) {
  await runCli(async () => {
    const command = process.argv[2] as Command;
    if (!(COMMANDS as readonly string[]).includes(command))
      throw new CliError('Usage', `usage: serverless-stage.ts <${COMMANDS.join('|')}> [options]`);
    const options = stageOptions(command, process.argv.slice(3), process.env);
    if (options === 'help') {
      process.stdout.write(`${stageUsage(command)}\n`);
      return EXIT.succeeded;
    }
    const target = ['--stage', options.stage, '--region', options.region];
    const status = serverless([command, ...target, ...options.rest]);
    if (status !== 0 || command !== 'deploy') return status;
    process.stdout.write('\nThe stack\'s outputs (docs/deploy.md "Outputs"):\n');
    return serverless(['info', '--verbose', ...target]);
  }, 'cannot start serverless');
}
