import { execFile } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { freePort } from '../local/services.ts';
import { aDetachRequest, aScalingGroup } from '../support/emulator-admin.ts';
import { stackClients } from './support/stack-clients.ts';

const { stack, admin } = stackClients();

/** The CLI as documented (npm run detach -- <action> '<json>' --url ...), against the local stack's webhook. */
const detach = (...args: string[]) =>
  new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', 'local/detach-cli.ts', ...args],
      { timeout: 60_000 },
      (error, stdout, stderr) => resolve({ code: error ? (error.code as number) : 0, stdout, stderr }),
    );
  });
const url = ['--url', stack.endpoints.http];

/** One line on stderr, and no stack trace. */
const oneLine = (stderr: string) => {
  expect(stderr.trim().split('\n')).toHaveLength(1);
  expect(stderr).not.toMatch(/^\s+at /m);
};

describe('npm run detach', () => {
  it.concurrent('sends a signed request and follows it to its Succeeded event', async () => {
    const group = await aScalingGroup(admin, { activityDurationMs: 500 });
    const request = aDetachRequest(group);

    const { code, stdout } = await detach('detach-instances', JSON.stringify(request), ...url);

    expect(code).toBe(0);
    expect(stdout).toContain(`accepted ${request.requestId}: QUEUED`);
    expect(stdout).toMatch(/SUCCEEDED activity asa-/);
    expect(stdout).toContain('"status": "Succeeded"');
  });

  it.concurrent('ends a dry run with its DryRun event and exits 0', async () => {
    const group = await aScalingGroup(admin);
    const request = { ...aDetachRequest(group), dryRun: true };

    const { code, stdout } = await detach('detach-instances', JSON.stringify(request), ...url);

    expect(code).toBe(0);
    expect(stdout).toMatch(/DRY_RUN/);
    expect(stdout).toContain('"status": "DryRun"');
  });

  it.concurrent('exits 1 when the request ends Failed', async () => {
    const group = await aScalingGroup(admin, { minSize: 3 });

    const { code, stdout } = await detach('detach-instances', JSON.stringify(aDetachRequest(group)), ...url);

    expect(code).toBe(1);
    expect(stdout).toContain('Preflight.BelowMinSize');
  });

  it.concurrent('checks the request with the contract before sending: one line, exit 2', async () => {
    const { code, stdout, stderr } = await detach('detach-instances', '{"requestId":"x"}', ...url);

    expect(code).toBe(2);
    expect(stdout).toBe('');
    oneLine(stderr);
    expect(stderr).toMatch(/^the request does not match the detach-instances contract: provider: /);
  });

  it.concurrent('refuses invalid JSON in one line, exit 2', async () => {
    const { code, stderr } = await detach('detach-instances', '{"requestId":', ...url);

    expect(code).toBe(2);
    oneLine(stderr);
    expect(stderr).toMatch(/^the request is not valid JSON/);
  });

  it.concurrent("reports the webhook's refusal in one line, exit 2", async () => {
    const group = await aScalingGroup(admin);

    const { code, stderr } = await detach(
      'detach-instances',
      JSON.stringify(aDetachRequest(group)),
      ...url,
      '--secret',
      'not-the-secret',
    );

    expect(code).toBe(2);
    oneLine(stderr);
    expect(stderr).toMatch(/^refused: HTTP 401 Unauthorized: /);
  });

  it.concurrent('says in one line that nothing answers at the URL, exit 2', async () => {
    const nowhere = `http://127.0.0.1:${await freePort()}`;
    const group = await aScalingGroup(admin);

    const { code, stderr } = await detach(
      'detach-instances',
      JSON.stringify(aDetachRequest(group)),
      '--url',
      nowhere,
    );

    expect(code).toBe(2);
    oneLine(stderr);
    expect(stderr).toContain(`cannot reach the webhook at ${nowhere}: start the local stack with npm start`);
  });
});
