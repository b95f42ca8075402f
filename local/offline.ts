import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { request } from 'undici';
import { type RunningService, stopChild, waitFor } from './services.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

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
        EVENTBRIDGE_PORT: String(options.eventBridgePort),
        EVENTBRIDGE_PUBSUB_PORT: String(options.eventBridgePubSubPort),
      },
    },
  );
  if (options.echo) {
    child.stdout.pipe(process.stdout);
    child.stderr.pipe(process.stderr);
  }
  const lambdaUrl = `http://127.0.0.1:${options.lambdaPort}`;
  await waitFor(
    'serverless-offline',
    child,
    async () => {
      const response = await request(`http://127.0.0.1:${options.eventBridgePort}/`, { method: 'GET' });
      await response.body.dump();
      const lambda = await request(`${lambdaUrl}/2015-03-31/functions/none/invocations`, {
        method: 'POST',
        body: '{}',
      });
      await lambda.body.dump();
      return true;
    },
    120_000,
  );
  return { url: `http://127.0.0.1:${options.httpPort}`, lambdaUrl, stop: () => stopChild(child) };
}
