import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { afterAll, describe, expect, it } from 'vitest';
import { EmulatorAdmin } from './support/emulator-admin.ts';

const bin = new URL('../emulator/bin.mjs', import.meta.url).pathname;
const children: ChildProcess[] = [];
afterAll(() => {
  for (const child of children) if (child.exitCode === null) child.kill('SIGTERM');
});

/** Starts `scaling-detach-emulator` as a user would, and reads the URL it announces. */
function startBin(args: string[]): Promise<{ url: string; child: ChildProcess }> {
  // The tests run with Powertools silenced; the bin announces its URL in its log.
  const env = { ...process.env, POWERTOOLS_LOG_LEVEL: 'INFO' };
  const child = spawn(process.execPath, [bin, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env });
  children.push(child);
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const url = /"url":"(http:\/\/[^"]+)"/.exec(out)?.[1];
      if (url) resolve({ url, child });
    });
    child.on('exit', (code) => reject(new Error(`exited ${code}: ${out}`)));
  });
}

describe('scaling-detach-emulator (the package bin)', () => {
  it('starts on a free port with the seed file it is given, and stops on SIGTERM', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'emulator-seed-'));
    const seedFile = join(dir, 'seed.json');
    writeFileSync(
      seedFile,
      JSON.stringify({
        aliyun: {
          scalingGroups: [
            { scalingGroupId: 'asg-fromfile', regionId: 'cn-shanghai', minSize: 0, maxSize: 2 },
          ],
        },
      }),
    );

    const { url, child } = await startBin(['--port', '0', '--seed', seedFile]);
    const state = (await (
      await request(`${url}/admin/state`, { headers: new EmulatorAdmin(url).headers })
    ).body.json()) as {
      aliyun: { scalingGroups: { scalingGroupId: string }[] };
    };
    const exited = new Promise((resolve) => child.on('exit', resolve));
    child.kill('SIGTERM');

    expect(state.aliyun.scalingGroups.map((g) => g.scalingGroupId)).toEqual(['asg-fromfile']);
    expect(await exited).toBe(0);
  }, 20_000);

  it('refuses a seed file that is not a seed, with exit status 2', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'emulator-seed-'));
    const seedFile = join(dir, 'bad.json');
    writeFileSync(seedFile, JSON.stringify({ aliyun: { scalingGroups: [{ scalingGroupId: 1 }] } }));
    const child = spawn(process.execPath, [bin, '--port', '0', '--seed', seedFile], { stdio: 'ignore' });
    children.push(child);

    expect(await new Promise((resolve) => child.on('exit', resolve))).toBe(2);
  });
});
