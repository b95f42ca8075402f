import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stackResources } from '../local/resources.ts';
import { LOCAL_AWS } from '../local/services.ts';
import type { StoredRecord as Operation } from '../shared/detach/ports.ts';
import { DynamoDbLedger } from '../shared/ledger/dynamodb-ledger.ts';
import {
  copyRepository,
  leftOver,
  npmStart,
  type StartedStack,
  stopForGood,
} from './support/repository-copy.ts';

/**
 * The README's "Samples, in order", as a newcomer runs them: every `npm run` line of that section, in order,
 * on a fresh `npm start` (in a copy of the repository, on free ports), each to its end before the next. Each
 * request must end as the section's table says, and the table must name exactly the requests the commands send.
 */
const run = promisify(execFile);
const README = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
const start = README.indexOf('### Samples, in order');
const section = README.slice(start, README.indexOf('\n## ', start));
const commands = [...section.matchAll(/```sh\n([\s\S]*?)```/g)]
  .flatMap((block) => (block[1] as string).split('\n'))
  .filter((line) => line.startsWith('npm run '));
const expected = new Map(
  [...section.matchAll(/^\| `([\w.:-]+)` \|[^|]*\| `(\w+)` \((\w+)\)/gm)].map((row) => [
    row[1] as string,
    { event: row[2] as string, ledger: row[3] as string },
  ]),
);

const copy = copyRepository();
let stack: StartedStack;
let ledger: DynamoDbLedger;
beforeAll(async () => {
  stack = await npmStart(copy.dir);
  ledger = new DynamoDbLedger(
    new DynamoDBClient({ ...LOCAL_AWS, endpoint: stack.file.endpoints.dynamodb }),
    stackResources('local').ledgerTable,
  );
}, 180_000);
afterAll(async () => {
  await stopForGood(stack);
  copy.remove();
}, 60_000);

/** The request a command sends: the JSON argument of send/detach, or the body of an invoked event file. */
function requestIdOf(command: string): string | undefined {
  const json = /'(\{.*\})'/.exec(command)?.[1];
  if (json) return (JSON.parse(json) as { requestId: string }).requestId;
  const eventFile = /^npm run invoke -- \w+ (\S+)$/.exec(command)?.[1];
  if (!eventFile) return undefined;
  const event = JSON.parse(readFileSync(join(copy.dir, eventFile), 'utf8')) as {
    Records?: { body: string }[];
    body?: string;
  };
  const body = event.Records?.[0]?.body ?? event.body;
  return body ? (JSON.parse(body) as { requestId: string }).requestId : undefined;
}

async function ended(requestId: string, timeoutMs = 90_000): Promise<Operation | undefined> {
  const deadline = Date.now() + timeoutMs;
  let record: Operation | undefined;
  while (Date.now() < deadline) {
    record = await ledger.get(requestId);
    if (record?.eventPublishedAt) return record;
    await sleep(250);
  }
  return record;
}

describe("the README's samples, in order, on a fresh stack", () => {
  it('the section has samples and a table of their ends', () => {
    expect(commands.length).toBeGreaterThanOrEqual(10);
    expect(expected.size).toBeGreaterThanOrEqual(10);
  });

  it('each command succeeds and each request ends as the table says', async () => {
    const seen: string[] = [];
    for (const command of commands) {
      const result = await run('sh', ['-c', command], { cwd: copy.dir, timeout: 120_000 }).then(
        (done) => ({ code: 0, output: done.stdout }),
        (error: { code: number; stdout: string; stderr: string }) => ({
          code: error.code,
          output: `${error.stdout}${error.stderr}`,
        }),
      );
      expect(result, command).toMatchObject({ code: 0 });
      const requestId = requestIdOf(command);
      if (!requestId || !expected.has(requestId)) continue;
      seen.push(requestId);
      const record = await ended(requestId);
      expect({ requestId, event: record?.event?.status, ledger: record?.status }, command).toEqual({
        requestId,
        ...expected.get(requestId),
      });
    }
    expect(seen.sort()).toEqual([...expected.keys()].sort());
  }, 600_000);

  it('Ctrl-C (SIGINT to the foreground process group) then leaves no process and no bound port', async () => {
    const pids = stack.processes();
    // What it started: npm, the shell, start.ts, DynamoDB Local, serverless-offline and esbuild.
    expect(pids.length).toBeGreaterThanOrEqual(5);

    process.kill(-(stack.npm.pid as number), 'SIGINT');

    expect(await leftOver(pids, Object.values(stack.file.ports))).toEqual({ running: [], open: [] });
  }, 60_000);
});
