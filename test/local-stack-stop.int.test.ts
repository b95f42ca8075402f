import { execFile } from 'node:child_process';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import {
  copyRepository,
  leftOver,
  npmStart,
  type StartedStack,
  stopForGood,
} from './support/repository-copy.ts';

/**
 * Every way of ending `npm start` stops what it started: checked by the pids under npm and the ports the stack
 * wrote down. Each start runs in a copy of the repository, on free ports, so it shares nothing with the suite's
 * stack (nor its build output).
 */
const copy = copyRepository();
afterAll(() => copy.remove());

const secondStart = (ports: string) =>
  new Promise<{ code: number | null; stderr: string }>((resolve) => {
    // What npm start runs (npm itself would add its own notices to stderr).
    execFile(
      process.execPath,
      ['--import', 'tsx', 'local/start.ts', '--ports', ports],
      { cwd: copy.dir, timeout: 60_000 },
      (error, _, stderr) => resolve({ code: error ? (error.code as number) : 0, stderr }),
    );
  });

// Ctrl-C (SIGINT to the foreground process group) ends test/readme-samples.int.test.ts's stack, and is
// checked there the same way.
const WAYS = [
  { way: 'SIGTERM to the npm process alone', signal: 'SIGTERM', group: false },
  { way: 'closing the terminal (SIGHUP to the process group)', signal: 'SIGHUP', group: true },
] as const;

let stack: StartedStack | undefined;
afterEach(async () => {
  // Only a failed test leaves anything running.
  await stopForGood(stack);
  stack = undefined;
}, 60_000);

describe('stopping npm start', () => {
  for (const { way, signal, group } of WAYS) {
    it(`${way} leaves no process and no bound port`, async () => {
      stack = await npmStart(copy.dir);
      const pids = stack.processes();
      const ports = Object.values(stack.file.ports);
      // What it started: npm, the shell, start.ts, DynamoDB Local, serverless-offline and esbuild.
      expect(pids.length).toBeGreaterThanOrEqual(5);
      if (signal === 'SIGTERM') {
        // Meanwhile a second npm start on the same ports says so in one line, and exits 2.
        const second = await secondStart(JSON.stringify(stack.file.ports));
        expect(second.code).toBe(2);
        expect(second.stderr.trim()).toMatch(
          /^port [\d, ]+ already in use: is another npm start running\?[^\n]*$/,
        );
      }

      process.kill(group ? -(stack.npm.pid as number) : (stack.npm.pid as number), signal);

      expect(await leftOver(pids, ports)).toEqual({ running: [], open: [] });
      stack = undefined;
    }, 180_000);
  }
});
