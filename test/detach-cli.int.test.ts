import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { aDetachRequest, aScalingGroup } from './support/emulator-admin.ts';
import { stackClients } from './support/stack-clients.ts';

const run = promisify(execFile);
const { stack, admin } = stackClients();

/** The CLI as documented (npm run detach -- <action> '<json>' --url ...), against the local stack's webhook. */
const detach = (...args: string[]) =>
  run(
    process.execPath,
    ['node_modules/tsx/dist/cli.mjs', 'local/detach-cli.ts', ...args, '--url', stack.endpoints.http],
    {
      timeout: 60_000,
    },
  ).then(
    (result) => ({ code: 0, stdout: result.stdout }),
    (error: { code: number; stdout: string }) => ({ code: error.code, stdout: error.stdout }),
  );

describe('npm run detach', () => {
  it.concurrent('sends a signed request and follows it to its Succeeded event', async () => {
    const group = await aScalingGroup(admin, { activityDurationMs: 500 });
    const request = aDetachRequest(group);

    const { code, stdout } = await detach('detach-instances', JSON.stringify(request));

    expect(code).toBe(0);
    expect(stdout).toContain(`accepted ${request.requestId}: QUEUED`);
    expect(stdout).toMatch(/SUCCEEDED activity asa-/);
    expect(stdout).toContain('"status": "Succeeded"');
  });

  it.concurrent('reports a refusal and exits 2', async () => {
    const { code, stdout } = await detach('detach-instances', '{"requestId":"x"}');

    expect(code).toBe(2);
    expect(stdout).toContain('refused: HTTP 422');
  });

  it.concurrent('exits 1 when the request ends Failed', async () => {
    const group = await aScalingGroup(admin, { minSize: 3 });

    const { code, stdout } = await detach('detach-instances', JSON.stringify(aDetachRequest(group)));

    expect(code).toBe(1);
    expect(stdout).toContain('Preflight.BelowMinSize');
  });
});
