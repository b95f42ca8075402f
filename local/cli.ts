import {
  ACTIONS,
  type Action,
  type DetachRequest,
  REQUEST_SCHEMAS,
  type TerminalStatus,
} from '../shared/contracts/index.ts';
import { issuesOf } from '../shared/detach/rejection.ts';

/** Exit codes every CLI here agrees on (README "CLIs"). */
export const EXIT = {
  /** The request ended Succeeded, or DryRun. */
  succeeded: 0,
  /** Any other end: Partial, Failed, TimedOut, Rejected, or gave up waiting. */
  otherEnd: 1,
  /** Bad usage, a request the contract refuses, a refusal, or the stack not reachable. */
  usage: 2,
} as const;

/** A mistake the user can fix: printed as one line, no stack trace. */
export class CliError extends Error {
  readonly code: string;
  readonly exitCode: number;

  constructor(code: string, message: string, exitCode: number = EXIT.usage) {
    super(message);
    this.name = 'CliError';
    this.code = code;
    this.exitCode = exitCode;
  }
}

export const exitCodeOf = (status: TerminalStatus): number =>
  status === 'Succeeded' || status === 'DryRun' ? EXIT.succeeded : EXIT.otherEnd;

/** Ledger statuses after which nothing more happens (the rest are QUEUED, SUBMITTED, IN_PROGRESS). */
const IN_FLIGHT = new Set(['QUEUED', 'SUBMITTED', 'IN_PROGRESS']);
export const isFinal = (status: string) => !IN_FLIGHT.has(status);

/** The action and request, checked with the contract the function uses, before anything is sent. */
export function parseRequest(action: string | undefined, json: string | undefined, usage: string) {
  if (!action || json === undefined) throw new CliError('Usage', usage);
  if (!(ACTIONS as string[]).includes(action))
    throw new CliError('UnknownAction', `unknown action "${action}": one of ${ACTIONS.join(', ')}`);
  let body: unknown;
  try {
    body = JSON.parse(json);
  } catch (error) {
    throw new CliError(
      'InvalidJson',
      `the request is not valid JSON (${(error as Error).message}); quote it in single quotes: '{"requestId":...}'`,
    );
  }
  const parsed = REQUEST_SCHEMAS[action as Action].safeParse(body);
  if (!parsed.success) {
    const issues = issuesOf(parsed.error)
      .map((issue) => `${issue.path}: ${issue.message}`)
      .join('; ');
    throw new CliError('InvalidRequest', `the request does not match the ${action} contract: ${issues}`);
  }
  return { action: action as Action, request: parsed.data as DetachRequest };
}

const CONNECTION_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ENOTFOUND',
  'EHOSTUNREACH',
  'UND_ERR_SOCKET',
]);

/** The first connection error code in an error, its cause or its aggregated errors. */
function connectionCode(error: unknown, depth = 0): string | undefined {
  if (!error || typeof error !== 'object' || depth > 4) return undefined;
  const { code, cause, errors } = error as { code?: unknown; cause?: unknown; errors?: unknown };
  if (typeof code === 'string' && CONNECTION_CODES.has(code)) return code;
  for (const inner of [cause, ...(Array.isArray(errors) ? errors : [])]) {
    const found = connectionCode(inner, depth + 1);
    if (found) return found;
  }
  return undefined;
}

/**
 * Runs a CLI's main and exits with its code. Whatever goes wrong ends in one line on stderr: a CliError as
 * written, a connection failure with what to start, anything else with the first line of its message (no
 * stack trace).
 */
export async function runCli(main: () => Promise<number>, unreachable: string): Promise<never> {
  try {
    process.exit(await main());
  } catch (error) {
    const code = connectionCode(error);
    const line =
      error instanceof CliError
        ? error.message
        : code
          ? `${unreachable} (${code})`
          : (error instanceof Error ? error.message : String(error)).split('\n')[0];
    process.stderr.write(`${line}\n`);
    process.exit(error instanceof CliError ? error.exitCode : code ? EXIT.usage : EXIT.otherEnd);
  }
}
