/**
 * The local stack's echo of the functions' logs (npm start). Deployed, a function logs one JSON object a line
 * (Powertools), which CloudWatch reads; on a terminal that is ~600 characters a line. The compact form keeps
 * what a person reads: the time, the level, the function, the message and its own data.
 */

/** Powertools' keys that say where a line came from, not what happened (the function's name is kept short). */
const CONTEXT_KEYS = new Set([
  'level',
  'message',
  'timestamp',
  'service',
  'cold_start',
  'function_arn',
  'function_memory_size',
  'function_name',
  'function_request_id',
  'sampling_rate',
  'xray_trace_id',
]);
const MAX_LINE = 240;

/** Lines that say nothing to a person here: serverless-offline's line after each invocation, and metrics. */
const NOISE = [/^\(λ: \w+\) RequestId: /, /^\{"_aws":\{/];
/** The poller's own line after every run (every 2 s locally): left out in either form. */
const POLLER_RUN = /^\(λ: pollActivities\) RequestId: /;
const METRICS = /^\{"_aws":\{/;

/**
 * serverless-offline's banner lists the routes of its own HTTP server, which the local stack does not use (the
 * webhook is served by local/http-api.ts, which keeps the raw body the signature covers).
 */
const BANNER_START = /^\s*┌/;
const BANNER_END = /^\s*└/;
const SERVER_READY = /^Server ready: /;

export type LogForm = 'compact' | 'json';

/** A filter with the state the banner needs: what to print for each line of serverless-offline's output. */
export function offlineEcho(form: LogForm): (line: string) => string | undefined {
  let inBanner = false;
  return (line) => {
    if (BANNER_START.test(line)) {
      inBanner = true;
      return "(serverless-offline's own HTTP server is not used: the webhook's routes are served by local/http-api.ts, on the port the banner below names)";
    }
    if (inBanner) {
      if (BANNER_END.test(line)) inBanner = false;
      return undefined;
    }
    if (SERVER_READY.test(line)) return undefined;
    if (form === 'json') return POLLER_RUN.test(line) || METRICS.test(line) ? undefined : line;
    if (NOISE.some((pattern) => pattern.test(line))) return undefined;
    return compactLine(line);
  };
}

const functionOf = (name: unknown) =>
  typeof name === 'string' ? name.replace(/^scaling-detach-[^-]+-/, '') : undefined;

/** One Powertools JSON line as `HH:MM:SS.mmm LEVEL function message key=value ...`; anything else as it is. */
export function compactLine(line: string): string {
  if (!line.startsWith('{')) return line;
  let item: Record<string, unknown>;
  try {
    item = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return line;
  }
  if (typeof item.message !== 'string' || typeof item.level !== 'string') return line;
  const time = typeof item.timestamp === 'string' ? item.timestamp.slice(11, 23) : '';
  const data = Object.entries(item)
    .filter(([key]) => !CONTEXT_KEYS.has(key))
    .map(([key, value]) => `${key}=${typeof value === 'string' ? value : JSON.stringify(value)}`)
    .join(' ');
  const text = [
    time,
    item.level.padEnd(5),
    functionOf(item.function_name) ?? item.service,
    item.message,
    data,
  ]
    .filter((part) => part !== undefined && part !== '')
    .join(' ');
  return text.length > MAX_LINE ? `${text.slice(0, MAX_LINE - 1)}…` : text;
}
