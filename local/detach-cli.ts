import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { request } from 'undici';
import { ACTIONS, CompletionEvent } from '../shared/contracts/index.ts';
import { SIGNATURE_HEADER, signatureHeader } from '../shared/signing/webhook-signature.ts';
import { CliError, EXIT, exitCodeOf, isFinal, parseRequest, runCli } from './cli.ts';
import { statusLine } from './follow.ts';
import { localEndpoints } from './stack-file.ts';
import { signingOf, TARGET_HELP } from './status-api.ts';

/**
 * For people: signs and sends one request to the webhook, then follows the status API until the request ends.
 *   npm run detach -- <action> '<request JSON>' [--url URL] [--secret SECRET] [--key-id ID] [--timeout SECONDS]
 * Defaults: SCALING_DETACH_URL or the local stack (http://127.0.0.1:3000), SCALING_DETACH_SECRET or the local
 * stage's secret (with --key-id, the local stage's secret of that key). Exit status: 0 Succeeded or DryRun, 1 any other end (Partial, Failed, TimedOut, Rejected) or
 * gave up waiting, 2 usage, a request the contract refuses, a refusal by the webhook, or the webhook unreachable.
 */
const USAGE = `usage: npm run detach -- <${ACTIONS.join('|')}> '<request JSON>' [--url URL] [--secret SECRET] [--key-id ID] [--timeout SECONDS] [--no-follow]`;
const HELP = `${USAGE}
Signs the request, POSTs it to the webhook and follows the status API until its completion event.
${TARGET_HELP}
  --timeout SECONDS   how long to follow (900)
  --no-follow         print "accepted <requestId>" and exit 0 without waiting
Exit status: 0 Succeeded or DryRun; 1 any other end, or gave up waiting; 2 usage, a request the contract
refuses, a refusal by the webhook (401, 403, 413, 415, 422), or the webhook not reachable.
`;
const REFUSAL_HINTS: Record<number, string> = {
  401: "check --secret or SCALING_DETACH_SECRET: it must be the stage's webhook secret, or with --key-id that key's",
  403: 'the key may not act on that account: ask for one that may, or name another account',
  404: "check --url: it must be the webhook's base URL",
};
const { positionals, values } = parseCommandLine();
const url = values.url as string;
let signing: { secret: string; keyId?: string } | undefined;
const print = (line: string) => process.stdout.write(`${new Date().toISOString()} ${line}\n`);

await runCli(async () => {
  if (values.help) {
    process.stdout.write(HELP);
    return EXIT.succeeded;
  }
  const { action } = parseRequest(positionals[0], positionals[1], USAGE);
  signing = signingOf(values);
  const timeoutSeconds = Number(values.timeout);
  if (!Number.isFinite(timeoutSeconds) || timeoutSeconds <= 0)
    throw new CliError('Usage', `--timeout must be a positive number of seconds\n${USAGE}`);

  // The text as given is what gets signed and sent.
  const accepted = await call('POST', `/v1/${action}`, positionals[1]);
  if (accepted.status !== 202) {
    const error = (accepted.body as { error?: { code?: string; message?: string } }).error;
    const hint = REFUSAL_HINTS[accepted.status];
    throw new CliError(
      'Refused',
      `refused: HTTP ${accepted.status} ${error?.code ?? ''}: ${error?.message ?? JSON.stringify(accepted.body)}${hint ? ` (${hint})` : ''}`,
    );
  }
  const statusUrl = accepted.body.statusUrl as string;
  print(`accepted ${accepted.body.requestId}: ${accepted.body.status}`);
  if (values['no-follow']) return EXIT.succeeded;
  const deadline = Date.now() + timeoutSeconds * 1000;
  let last = '';
  while (Date.now() < deadline) {
    const { body } = await call('GET', statusUrl);
    const status = String(body.status);
    const line = statusLine(body as Parameters<typeof statusLine>[0]);
    if (line !== last) print(line);
    last = line;
    if (isFinal(status) && body.eventPublishedAt) {
      const event = CompletionEvent.parse(body.event);
      process.stdout.write(`${JSON.stringify(event, null, 2)}\n`);
      return exitCodeOf(event.status);
    }
    await sleep(1000);
  }
  print(`gave up waiting after ${timeoutSeconds} s (the request may still end: ${url}${statusUrl})`);
  return EXIT.otherEnd;
}, `cannot reach the webhook at ${url}: start the local stack with npm start, or pass --url`);

function parseCommandLine() {
  try {
    return parseArgs({
      allowPositionals: true,
      options: {
        url: { type: 'string', default: process.env.SCALING_DETACH_URL ?? localEndpoints().http },
        secret: { type: 'string' },
        'key-id': { type: 'string' },
        timeout: { type: 'string', default: '900' },
        'no-follow': { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
    });
  } catch (error) {
    process.stderr.write(`${(error as Error).message}\n${USAGE}\n`);
    process.exit(EXIT.usage);
  }
}

async function call(method: 'GET' | 'POST', path: string, body?: string) {
  const payload = method === 'GET' ? `GET ${path}` : (body as string);
  const response = await request(`${url}${path}`, {
    method,
    headers: {
      [SIGNATURE_HEADER]: signatureHeader(signing?.secret ?? '', payload, new Date(), signing?.keyId),
      ...(body !== undefined && { 'content-type': 'application/json' }),
    },
    ...(body !== undefined && { body }),
  });
  const text = await response.body.text();
  let parsed: Record<string, unknown>;
  try {
    parsed = JSON.parse(text) as Record<string, unknown>;
  } catch {
    throw new CliError(
      'NotTheWebhook',
      `${url}${path} answered HTTP ${response.statusCode} without JSON: is it the webhook?`,
    );
  }
  return { status: response.statusCode, body: parsed };
}
