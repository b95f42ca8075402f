import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { afterAll, describe, expect, it } from 'vitest';
import { EmulatorAdmin } from '../support/emulator-admin.ts';

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

  /** Runs the bin on a seed file and gives back how it ended and what it wrote to stderr. */
  async function runWithSeed(text: string): Promise<{ code: number | null; stderr: string; stdout: string }> {
    const dir = mkdtempSync(join(tmpdir(), 'emulator-seed-'));
    const seedFile = join(dir, 'bad.json');
    writeFileSync(seedFile, text);
    const child = spawn(process.execPath, [bin, '--port', '0', '--seed', seedFile], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.push(child);
    let stderr = '';
    let stdout = '';
    child.stderr?.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    child.stdout?.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
    });
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    return { code, stderr, stdout };
  }

  const group = { scalingGroupId: 'asg-1', regionId: 'cn-hangzhou', minSize: 0, maxSize: 3 };
  it.each([
    [
      'a key of the wrong type',
      { aliyun: { scalingGroups: [{ ...group, scalingGroupId: 1 }] } },
      'aliyun.scalingGroups[0].scalingGroupId',
    ],
    [
      'an unknown lifecycle state',
      {
        aliyun: {
          scalingGroups: [group],
          instances: [{ instanceId: 'i-1', scalingGroupId: 'asg-1', lifecycleState: 'Asleep' }],
        },
      },
      'aliyun.instances[0].lifecycleState: Invalid option',
    ],
    [
      'minSize above maxSize',
      { aliyun: { scalingGroups: [{ ...group, minSize: 4 }] } },
      'aliyun.scalingGroups[0].minSize: minSize 4 is above maxSize 3',
    ],
    [
      'a desired capacity outside minSize .. maxSize',
      {
        tencent: {
          groups: [
            {
              autoScalingGroupId: 'asg-t',
              region: 'ap-guangzhou',
              minSize: 1,
              maxSize: 2,
              desiredCapacity: 3,
            },
          ],
        },
      },
      'tencent.groups[0].desiredCapacity: desiredCapacity 3 is outside minSize 1 .. maxSize 2',
    ],
    [
      'an instance naming a group that does not exist',
      { aliyun: { scalingGroups: [group], instances: [{ instanceId: 'i-1', scalingGroupId: 'asg-2' }] } },
      'aliyun.instances[0].scalingGroupId: names group "asg-2", which the seed does not have',
    ],
    [
      'a duplicate instance id',
      {
        tencent: {
          groups: [{ autoScalingGroupId: 'asg-t', region: 'ap-guangzhou', minSize: 0, maxSize: 2 }],
          instances: [
            { instanceId: 'ins-1', autoScalingGroupId: 'asg-t' },
            { instanceId: 'ins-1', autoScalingGroupId: 'asg-t' },
          ],
        },
      },
      'tencent.instances[1]: instanceId "ins-1" is named twice',
    ],
    [
      'an unknown key',
      { aliyun: { scalingGroups: [{ ...group, maxsize: 3 }] } },
      'aliyun.scalingGroups[0].maxsize: unknown key (did you mean "maxSize"?)',
    ],
  ])(
    'refuses %s with exit status 2 and one line naming the path, no stack trace',
    async (_name, seed, said) => {
      const { code, stderr, stdout } = await runWithSeed(JSON.stringify(seed));

      expect(code).toBe(2);
      expect(stderr).toContain(said);
      expect(stderr.trimEnd().split('\n')).toHaveLength(1);
      expect(stderr).toMatch(/^invalid seed .*bad\.json: /);
      expect(stderr).not.toMatch(/\n\s+at /);
      expect(stdout).toBe('');
    },
  );

  it('refuses a file that is not JSON the same way', async () => {
    const { code, stderr } = await runWithSeed('{ "aliyun": ');

    expect(code).toBe(2);
    expect(stderr).toMatch(/^invalid seed .*bad\.json: not JSON \(.*\)\n$/);
  });
});
