import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { request } from 'undici';
import { SIGNATURE_HEADER, signatureHeader } from '../shared/signing/webhook-signature.ts';
import { LOCAL_WEBHOOK_SECRET } from './stack.ts';

/**
 * For people: signs and sends one request to the webhook, then follows the status API until the request ends.
 *   npm run detach -- <action> '<request JSON>' [--url URL] [--secret SECRET] [--timeout SECONDS]
 * Defaults: SCALING_DETACH_URL or the local stack (http://127.0.0.1:3000), SCALING_DETACH_SECRET or the local
 * stage's secret. Exit status: 0 Succeeded, 1 any other end (Partial, Failed, TimedOut, Rejected), 2 refused.
 */
const { positionals, values } = parseArgs({
  allowPositionals: true,
  options: {
    url: { type: 'string', default: process.env.SCALING_DETACH_URL ?? 'http://127.0.0.1:3000' },
    secret: { type: 'string', default: process.env.SCALING_DETACH_SECRET ?? LOCAL_WEBHOOK_SECRET },
    timeout: { type: 'string', default: '900' },
  },
});
const [action, json] = positionals;
if (!action || !json) {
  process.stderr.write("usage: npm run detach -- <action> '<request JSON>' [--url URL] [--secret SECRET]\n");
  process.exit(2);
}
const { url, secret } = values as { url: string; secret: string };
const print = (line: string) => process.stdout.write(`${new Date().toISOString()} ${line}\n`);

async function call(method: 'GET' | 'POST', path: string, body?: string) {
  const payload = method === 'GET' ? `GET ${path}` : (body as string);
  const response = await request(`${url}${path}`, {
    method,
    headers: {
      [SIGNATURE_HEADER]: signatureHeader(secret, payload),
      ...(body !== undefined && { 'content-type': 'application/json' }),
    },
    ...(body !== undefined && { body }),
  });
  return { status: response.statusCode, body: (await response.body.json()) as Record<string, unknown> };
}

const accepted = await call('POST', `/v1/${action}`, json);
if (accepted.status !== 202) {
  print(`refused: HTTP ${accepted.status} ${JSON.stringify(accepted.body)}`);
  process.exit(2);
}
const statusUrl = accepted.body.statusUrl as string;
print(`accepted ${accepted.body.requestId}: ${accepted.body.status}`);
const TERMINAL = new Set(['SUCCEEDED', 'PARTIAL', 'FAILED', 'REJECTED', 'TIMED_OUT']);
const deadline = Date.now() + Number(values.timeout) * 1000;
let last = '';
while (Date.now() < deadline) {
  const { body } = await call('GET', statusUrl);
  const line = `${body.status}${body.activityId ? ` activity ${body.activityId}` : ''}`;
  if (line !== last) print(line);
  last = line;
  if (TERMINAL.has(body.status as string) && body.eventPublishedAt) {
    process.stdout.write(`${JSON.stringify(body.event, null, 2)}\n`);
    process.exit(body.status === 'SUCCEEDED' ? 0 : 1);
  }
  await sleep(1000);
}
print('gave up waiting');
process.exit(1);
