import { afterAll, describe, expect, it } from 'vitest';
import { copyRepository, leftOver, npmStart } from './support/repository-copy.ts';

/**
 * Every way of ending `npm start` stops what it started: checked by the pids under npm and the ports the stack
 * wrote down. Each start runs in a copy of the repository, on free ports, so it shares nothing with the suite's
 * stack (nor its build output).
 */
const copy = copyRepository();
afterAll(() => copy.remove());

const WAYS = [
  { way: 'Ctrl-C (SIGINT to the foreground process group)', signal: 'SIGINT', group: true },
  { way: 'SIGTERM to the npm process alone', signal: 'SIGTERM', group: false },
  { way: 'closing the terminal (SIGHUP to the process group)', signal: 'SIGHUP', group: true },
] as const;

describe('stopping npm start', () => {
  for (const { way, signal, group } of WAYS) {
    it(`${way} leaves no process and no bound port`, async () => {
      const stack = await npmStart(copy.dir);
      const pids = stack.processes();
      const ports = Object.values(stack.file.ports);
      // What it started: npm, the shell, start.ts, DynamoDB Local, serverless-offline and esbuild.
      expect(pids.length).toBeGreaterThanOrEqual(5);

      process.kill(group ? -(stack.npm.pid as number) : (stack.npm.pid as number), signal);

      expect(await leftOver(pids, ports)).toEqual({ running: [], open: [] });
    }, 180_000);
  }
});
