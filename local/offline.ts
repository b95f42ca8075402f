import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import type { Readable, Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { stripVTControlCharacters as stripAnsi } from 'node:util';
import { type LogForm, offlineEcho } from './log-format.ts';
import { accepts, type RunningService, stopChild, waitFor } from './services.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const LOOPBACK_ONLY = new URL('./loopback-only.ts', import.meta.url).href;

export interface OfflineOptions {
  httpPort: number;
  lambdaPort: number;
  eventBridgePort: number;
  eventBridgePubSubPort: number;
  /** AWS_ENDPOINT_URL_* and the settings the functions read (serverless.yml `params.local`). */
  env: Record<string, string>;
  /** Copy the functions' logs to this process's output (npm start); tests keep them quiet. */
  echo?: boolean;
  /** How the echo shows the functions' log lines: one compact line each (default), or their JSON as it is. */
  logForm?: LogForm;
}

/** serverless-offline for stage `local`, with the EventBridge emulator plugin; bundled by serverless-esbuild. */
export async function startOffline(options: OfflineOptions): Promise<RunningService & { lambdaUrl: string }> {
  const child = spawn(
    process.execPath,
    [
      'node_modules/serverless/bin/serverless.js',
      'offline',
      'start',
      '--stage',
      'local',
      '--httpPort',
      String(options.httpPort),
      '--lambdaPort',
      String(options.lambdaPort),
      '--noTimeout',
    ],
    {
      cwd: ROOT,
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: {
        ...process.env,
        ...options.env,
        SLS_TELEMETRY_DISABLED: '1',
        NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --import "${LOOPBACK_ONLY}"`.trim(),
        EVENTBRIDGE_PORT: String(options.eventBridgePort),
        EVENTBRIDGE_PUBSUB_PORT: String(options.eventBridgePubSubPort),
      },
    },
  );
  if (options.echo) {
    echoLines(child.stdout, process.stdout, offlineEcho(options.logForm ?? 'compact'));
    echoLines(child.stderr, process.stderr, offlineEcho(options.logForm ?? 'compact'));
  }
  const lambdaUrl = `http://127.0.0.1:${options.lambdaPort}`;
  // Ready when the bus, the Lambda endpoint and the HTTP API accept connections: a bare connect, since a
  // request to a made-up function makes serverless-offline print an error a newcomer would believe.
  const ports = [
    options.eventBridgePort,
    options.eventBridgePubSubPort,
    options.lambdaPort,
    options.httpPort,
  ];
  await waitFor(
    'serverless-offline',
    child,
    async () => (await Promise.all(ports.map(accepts))).every(Boolean),
    120_000,
  );
  return { url: `http://127.0.0.1:${options.httpPort}`, lambdaUrl, stop: () => stopChild(child) };
}

/** Each line through the echo's filter (local/log-format.ts), as it comes. */
function echoLines(from: Readable, to: Writable, echo: (line: string) => string | undefined) {
  createInterface({ input: from, crlfDelay: Number.POSITIVE_INFINITY }).on('line', (line) => {
    const shown = echo(stripAnsi(line));
    if (shown !== undefined) to.write(`${shown}\n`);
  });
}
