import { execFile } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort } from '../local/services.ts';
import type { LocalEndpoints } from '../local/stack-file.ts';
import { aDetachRequest, aScalingGroup } from '../support/emulator-admin.ts';
import { copyRepository } from './support/repository-copy.ts';
import { stackClients } from './support/stack-clients.ts';

/**
 * npm run send as documented, against the suite's stack: a copy of the repository whose .local/stack.json names
 * that stack's endpoints, as npm start writes it; and a second copy naming ports where nothing runs.
 */
const { stack, admin } = stackClients();
const running = copyRepository();
const stopped = copyRepository();
afterAll(() => {
  running.remove();
  stopped.remove();
});

function pointAt(dir: string, endpoints: LocalEndpoints) {
  mkdirSync(join(dir, '.local'), { recursive: true });
  writeFileSync(join(dir, '.local', 'stack.json'), JSON.stringify({ pid: 0, endpoints, ports: {} }));
}
pointAt(running.dir, stack.endpoints);
const nowhere = `http://127.0.0.1:${await freePort()}`;
pointAt(stopped.dir, { ...stack.endpoints, sqs: nowhere, dynamodb: nowhere });

const send = (dir: string, ...args: string[]) =>
  new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', 'local/send.ts', ...args],
      { cwd: dir, timeout: 60_000 },
      (error, stdout, stderr) => resolve({ code: error ? (error.code as number) : 0, stdout, stderr }),
    );
  });

/** One line on stderr, and no stack trace. */
const oneLine = (stderr: string) => {
  expect(stderr.trim().split('\n')).toHaveLength(1);
  expect(stderr).not.toMatch(/^\s+at /m);
};

describe('npm run send', () => {
  it.concurrent('follows a request to its Succeeded event and exits 0', async () => {
    const group = await aScalingGroup(admin, { activityDurationMs: 300 });
    const request = aDetachRequest(group);

    const { code, stdout } = await send(running.dir, 'detach-instances', JSON.stringify(request));

    expect(code).toBe(0);
    expect(stdout).toContain(`queued ${request.requestId}`);
    expect(stdout).toContain('"status": "Succeeded"');
  });

  it.concurrent('ends a dry run with its DryRun event and exits 0', async () => {
    const group = await aScalingGroup(admin);
    const request = { ...aDetachRequest(group), dryRun: true };

    const { code, stdout } = await send(running.dir, 'detach-instances', JSON.stringify(request));

    expect(code).toBe(0);
    expect(stdout).toContain('"status": "DryRun"');
  });

  it.concurrent('exits 1 when the request ends Failed', async () => {
    const group = await aScalingGroup(admin, { minSize: 3 });

    const { code, stdout } = await send(
      running.dir,
      'detach-instances',
      JSON.stringify(aDetachRequest(group)),
    );

    expect(code).toBe(1);
    expect(stdout).toContain('Preflight.BelowMinSize');
  });

  it.concurrent.each([
    ['invalid JSON', ['detach-instances', '{requestId:1}'], /^the request is not valid JSON/],
    [
      'no requestId',
      [
        'detach-instances',
        '{"provider":"aliyun","region":"cn-hangzhou","scalingGroupId":"g","instanceIds":["i-1"]}',
      ],
      /^the request does not match the detach-instances contract: requestId: /,
    ],
    [
      'a requestId the contract refuses',
      [
        'detach-instances',
        '{"requestId":"has space","provider":"aliyun","region":"cn-hangzhou","scalingGroupId":"g","instanceIds":["i-1"]}',
      ],
      /^the request does not match the detach-instances contract: requestId: must be/,
    ],
    ['an unknown action', ['detach-everything', '{}'], /^unknown action "detach-everything"/],
    ['no request', ['detach-instances'], /^usage: npm run send -- /],
  ])('refuses %s before sending, in one line, and exits 2', async (_, args, message) => {
    const { code, stdout, stderr } = await send(running.dir, ...args);

    expect(code).toBe(2);
    expect(stdout).toBe('');
    oneLine(stderr);
    expect(stderr).toMatch(message);
  });

  it.concurrent('says in one line that the stack is not running, and exits 2', async () => {
    const group = await aScalingGroup(admin);

    const { code, stderr } = await send(
      stopped.dir,
      'detach-instances',
      JSON.stringify(aDetachRequest(group)),
    );

    expect(code).toBe(2);
    oneLine(stderr);
    expect(stderr).toContain(`cannot reach the local stack at ${nowhere}: start it with npm start`);
  });
});

describe('npm run invoke', () => {
  it.concurrent('says in one line that the stack is not running, and exits 2', async () => {
    const { code, stderr } = await new Promise<{ code: number; stderr: string }>((resolve) => {
      execFile(
        process.execPath,
        ['--import', 'tsx', 'local/invoke.ts', 'detachInstances', 'events/detach-instances.sqs.json'],
        { cwd: stopped.dir, timeout: 60_000 },
        (error, _, stderr) => resolve({ code: error ? (error.code as number) : 0, stderr }),
      );
    });

    expect(code).toBe(2);
    oneLine(stderr);
    expect(stderr).toContain(`the local stack is not running (nothing at ${nowhere}`);
  });
});
