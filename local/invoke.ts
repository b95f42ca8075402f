import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { SIGNATURE_HEADER, signatureHeader } from '../shared/signing/webhook-signature.ts';
import { CliError, EXIT, runCli } from './cli.ts';
import { followOnLedger } from './follow.ts';
import { stackResources } from './resources.ts';
import { accepts, LOCAL_AWS } from './services.ts';
import { LOCAL_WEBHOOK_SECRET } from './stack.ts';
import { localEndpoints } from './stack-file.ts';

/**
 * `serverless invoke local` against the stack that `npm start` runs: same AWS endpoints and settings as the
 * functions get there, then follows the requests the event carries, as `npm run send` does.
 * Usage: npm run invoke -- detachInstances events/detach-instances.sqs.json [--no-follow]
 * A webhook event (HTTP API 2.0) is signed again with the local secret first: a stored signature is stale
 * after five minutes.
 */
/** The functions of serverless.yml (`functions:`); local/invoke.test.ts keeps the list in step. */
export const FUNCTION_NAMES = [
  'detachInstances',
  'removeInstances',
  'detachVServerGroups',
  'detachAlbServerGroups',
  'webhook',
  'pollActivities',
  'recordDelivery',
  'deadLetter',
] as const;
const USAGE = 'usage: npm run invoke -- <function> <event file> [--no-follow]';
const HELP = `${USAGE}
Runs one function once on the event (serverless invoke local, stage local) against the running local stack,
then follows each request the event carries (an SQS record's body, the webhook's POST body) to its completion
event, as npm run send does.
  <function>    one of ${FUNCTION_NAMES.join(', ')}
  --no-follow   only the invocation: its result, and exit with serverless's status
Exit status: 0 every request followed ended Succeeded or DryRun (or, with nothing to follow, the invocation
succeeded); 1 any other end, or the invocation failed; 2 usage, an unreadable event file, or the stack not running.
`;
const endpoints = localEndpoints();
const resources = stackResources('local');

if (import.meta.url === `file://${process.argv[1]}`) {
  await runCli(async () => {
    const { positionals, values } = parseCommandLine();
    if (values.help) {
      process.stdout.write(HELP);
      return EXIT.succeeded;
    }
    const [functionName, eventPath, ...extra] = positionals;
    if (!functionName || !eventPath || extra.length > 0) throw new CliError('Usage', USAGE);
    if (!(FUNCTION_NAMES as readonly string[]).includes(functionName))
      throw new CliError(
        'UnknownFunction',
        `unknown function "${functionName}": one of ${FUNCTION_NAMES.join(', ')}`,
      );
    let event: unknown;
    try {
      event = JSON.parse(readFileSync(eventPath, 'utf8'));
    } catch (error) {
      throw new CliError('BadEventFile', `cannot read ${eventPath} as JSON: ${(error as Error).message}`);
    }
    const reachable = await Promise.all(
      [endpoints.sqs, endpoints.dynamodb].map((url) => accepts(Number(new URL(url).port))),
    );
    if (!reachable.every(Boolean))
      throw new CliError(
        'StackNotRunning',
        `the local stack is not running (nothing at ${endpoints.sqs} / ${endpoints.dynamodb}): start it with npm start`,
      );
    const signed = signedAgain(event);
    const dir = signed ? mkdtempSync(join(tmpdir(), 'scaling-detach-invoke-')) : undefined;
    const path = dir ? join(dir, 'event.json') : eventPath;
    if (dir) writeFileSync(path, JSON.stringify(signed));
    let status: number;
    try {
      status = invoke(functionName, path);
    } finally {
      if (dir) rmSync(dir, { recursive: true, force: true });
    }
    const requestIds = requestIdsOf(event);
    if (values['no-follow'] || status !== 0 || requestIds.length === 0) return status;
    let exit: number = EXIT.succeeded;
    for (const requestId of requestIds) {
      process.stdout.write(`following ${requestId}\n`);
      exit = Math.max(exit, await followOnLedger(endpoints, requestId));
    }
    return exit;
  }, 'cannot start serverless');
}

function parseCommandLine() {
  try {
    return parseArgs({
      allowPositionals: true,
      options: {
        'no-follow': { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
    });
  } catch (error) {
    throw new CliError('Usage', `${(error as Error).message}\n${USAGE}`);
  }
}

/**
 * The request ids an event carries: each SQS record's body, or the webhook's POST body. Other events (the
 * poller's schedule, a completion event for record-delivery) start no request.
 */
export function requestIdsOf(event: unknown): string[] {
  const idOf = (body: unknown) => {
    if (typeof body !== 'string') return undefined;
    try {
      const requestId = (JSON.parse(body) as { requestId?: unknown }).requestId;
      return typeof requestId === 'string' ? requestId : undefined;
    } catch {
      return undefined;
    }
  };
  const sqs = event as { Records?: { eventSource?: string; body?: unknown }[] };
  if (Array.isArray(sqs.Records))
    return [
      ...new Set(
        sqs.Records.filter((record) => record.eventSource === 'aws:sqs').flatMap(
          (record) => idOf(record.body) ?? [],
        ),
      ),
    ];
  const http = event as {
    body?: unknown;
    isBase64Encoded?: boolean;
    requestContext?: { http?: { method?: string } };
  };
  if (http.requestContext?.http?.method !== 'POST') return [];
  const body =
    http.isBase64Encoded && typeof http.body === 'string'
      ? Buffer.from(http.body, 'base64').toString('utf8')
      : http.body;
  const id = idOf(body);
  return id ? [id] : [];
}

/** An HTTP API event that carries our signature header, with a fresh signature over its body or path. */
function signedAgain(event: unknown) {
  const http = event as {
    rawPath?: string;
    body?: string;
    isBase64Encoded?: boolean;
    headers?: Record<string, string>;
    requestContext?: { http?: { method?: string } };
  };
  const method = http.requestContext?.http?.method;
  if (!method || !http.headers?.[SIGNATURE_HEADER]) return undefined;
  const body = http.isBase64Encoded
    ? Buffer.from(http.body ?? '', 'base64').toString('utf8')
    : (http.body ?? '');
  const payload = method === 'GET' ? `GET ${http.rawPath}` : body;
  return {
    ...http,
    headers: { ...http.headers, [SIGNATURE_HEADER]: signatureHeader(LOCAL_WEBHOOK_SECRET, payload) },
  };
}

function invoke(functionName: string, eventPath: string): number {
  const result = spawnSync(
    process.execPath,
    [
      'node_modules/serverless/bin/serverless.js',
      'invoke',
      'local',
      '--stage',
      'local',
      '--function',
      functionName,
      '--path',
      eventPath,
    ],
    {
      stdio: 'inherit',
      env: {
        ...process.env,
        SLS_TELEMETRY_DISABLED: '1',
        AWS_REGION: LOCAL_AWS.region,
        AWS_ACCESS_KEY_ID: LOCAL_AWS.credentials.accessKeyId,
        AWS_SECRET_ACCESS_KEY: LOCAL_AWS.credentials.secretAccessKey,
        AWS_ENDPOINT_URL_SQS: endpoints.sqs,
        AWS_ENDPOINT_URL_DYNAMODB: endpoints.dynamodb,
        AWS_ENDPOINT_URL_EVENTBRIDGE: endpoints.eventBridge,
        ESS_ENDPOINT: endpoints.emulator,
        TENCENT_AS_ENDPOINT: endpoints.emulator,
        TENCENT_V2_ENDPOINT: endpoints.emulator,
        WEBHOOK_SECRET: LOCAL_WEBHOOK_SECRET,
        REQUEST_QUEUE_URLS: JSON.stringify(
          Object.fromEntries(
            resources.queues.map((q) => [q.action, `${endpoints.sqs}/000000000000/${q.queueName}`]),
          ),
        ),
      },
    },
  );
  return result.status ?? 1;
}
