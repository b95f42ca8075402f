import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import type { Readable, Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { stripVTControlCharacters as stripAnsi } from 'node:util';
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
    echoLines(child.stdout, process.stdout);
    echoLines(child.stderr, process.stderr);
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

/**
 * Left out of the echo: serverless-offline's own line after every run of the poller (every 2 s locally), and
 * the metrics (CloudWatch EMF lines, which only CloudWatch reads). Everything else is copied as it comes.
 */
const UNREAD_LINES = [/^\(λ: pollActivities\) RequestId: /, /^\{"_aws":\{/];

function echoLines(from: Readable, to: Writable) {
  createInterface({ input: from, crlfDelay: Number.POSITIVE_INFINITY }).on('line', (line) => {
    const plain = stripAnsi(line);
    if (!UNREAD_LINES.some((pattern) => pattern.test(plain))) to.write(`${line}\n`);
  });
}
