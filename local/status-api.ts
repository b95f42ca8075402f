import { parseArgs } from 'node:util';
import { request } from 'undici';
import { SIGNATURE_HEADER, signatureHeader } from '../shared/signing/webhook-signature.ts';
import { CliError, EXIT } from './cli.ts';
import { LOCAL_WEBHOOK_SECRET, localCallerSecret } from './stack.ts';
import { localEndpoints } from './stack-file.ts';

/** A webhook stage to talk to: its base URL, and the secret to sign with (a caller's, with its key id). */
export interface StatusApiTarget {
  url: string;
  secret: string;
  /** A caller's key id (docs/accounts.md "Caller keys"); absent: the default caller, the webhook secret. */
  keyId?: string | undefined;
}

/** The options every CLI of the status API takes, with where their defaults come from. */
export const TARGET_HELP = `  --url URL         the webhook's base URL (SCALING_DETACH_URL; default the local stack, http://127.0.0.1:3000;
                    deployed: the stack's WebhookUrl output)
  --secret SECRET   the stage's webhook secret, or with --key-id that key's secret (SCALING_DETACH_SECRET;
                    default the local stage's)
  --key-id ID       sign as the caller with this key id (SCALING_DETACH_KEY_ID; docs/accounts.md "Caller
                    keys"); the local stack has local-team-a, for the account shop-dev`;

/**
 * What to sign with, from --secret and --key-id (or their variables): a key id without a secret takes the local
 * stage's secret of that key, if it has one.
 */
export function signingOf(values: { secret?: unknown; 'key-id'?: unknown }): {
  secret: string;
  keyId?: string;
} {
  const keyId = (values['key-id'] as string | undefined) ?? process.env.SCALING_DETACH_KEY_ID;
  const given = (values.secret as string | undefined) ?? process.env.SCALING_DETACH_SECRET;
  if (!keyId) return { secret: given ?? LOCAL_WEBHOOK_SECRET };
  const secret = given ?? localCallerSecret(keyId);
  if (!secret)
    throw new CliError(
      'Usage',
      `--key-id ${keyId}: give its secret with --secret or SCALING_DETACH_SECRET (the local stack has no such key)`,
    );
  return { secret, keyId };
}

export interface SignedAnswer {
  status: number;
  body: Record<string, unknown>;
}

/**
 * One signed call: a GET signs `GET <path>`, a POST its body as sent. An answer that is not JSON means the URL
 * is not the webhook.
 */
export async function signedCall(
  target: StatusApiTarget,
  method: 'GET' | 'POST',
  path: string,
  body?: string,
): Promise<SignedAnswer> {
  const payload = method === 'GET' ? `GET ${path}` : (body ?? '');
  const response = await request(`${target.url}${path}`, {
    method,
    headers: {
      [SIGNATURE_HEADER]: signatureHeader(target.secret, payload, new Date(), target.keyId),
      ...(body !== undefined && { 'content-type': 'application/json' }),
    },
    ...(body !== undefined && { body }),
  });
  const text = await response.body.text();
  try {
    return { status: response.statusCode, body: JSON.parse(text) as Record<string, unknown> };
  } catch {
    throw new CliError(
      'NotTheWebhook',
      `${target.url}${path} answered HTTP ${response.statusCode} without JSON: is it the webhook?`,
    );
  }
}

const HINTS: Record<number, string> = {
  401: "check --secret or SCALING_DETACH_SECRET: it must be the stage's webhook secret, or with --key-id that key's",
  403: 'the key may not act on that account: ask for one that may, or name another account',
};

/** A refusal as one line: the HTTP status, the error's code and message, and what to check. */
export function refusalLine(answer: SignedAnswer): string {
  const error = (answer.body as { error?: { code?: string; message?: string } }).error;
  const hint = HINTS[answer.status];
  return `HTTP ${answer.status} ${error?.code ?? ''}: ${error?.message ?? JSON.stringify(answer.body)}${hint ? ` (${hint})` : ''}`;
}

/** The status API CLIs' command line (`npm run status`, `npm run group`): the stage's URL and secret, `--json`. */
export function parseStatusApiCommandLine(usage: string) {
  try {
    return parseArgs({
      allowPositionals: true,
      options: {
        url: { type: 'string', default: process.env.SCALING_DETACH_URL ?? localEndpoints().http },
        secret: { type: 'string' },
        'key-id': { type: 'string' },
        json: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
    });
  } catch (error) {
    process.stderr.write(`${(error as Error).message}\n${usage}\n`);
    process.exit(EXIT.usage);
  }
}
