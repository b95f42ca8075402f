import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SIGNATURE_HEADER, signatureHeader } from '../shared/signing/webhook-signature.ts';
import { CliError, runCli } from './cli.ts';
import { stackResources } from './resources.ts';
import { accepts, LOCAL_AWS } from './services.ts';
import { LOCAL_WEBHOOK_SECRET } from './stack.ts';
import { localEndpoints } from './stack-file.ts';

/**
 * `serverless invoke local` against the stack that `npm start` runs: same AWS endpoints and settings as the
 * functions get there. Usage: npm run invoke -- detachInstances events/detach-instances.sqs.json
 * A webhook event (HTTP API 2.0) is signed again with the local secret first: a stored signature is stale
 * after five minutes.
 */
const USAGE = 'usage: npm run invoke -- <function> <event file>';
const endpoints = localEndpoints();
const resources = stackResources('local');

await runCli(async () => {
  const [functionName, eventPath] = process.argv.slice(2);
  if (!functionName || !eventPath) throw new CliError('Usage', USAGE);
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
  try {
    return invoke(functionName, path);
  } finally {
    if (dir) rmSync(dir, { recursive: true, force: true });
  }
}, 'cannot start serverless');

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
