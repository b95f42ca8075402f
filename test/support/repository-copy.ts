import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { accepts } from '../../local/services.ts';
import type { StackFile } from '../../local/stack-file.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/**
 * The repository's files (tracked, and new ones not ignored) copied to an empty temporary directory with
 * node_modules linked: a clone with nothing beside it, whose build output and .local/ are its own.
 */
export function copyRepository(): { dir: string; remove(): void } {
  const dir = mkdtempSync(join(tmpdir(), 'scaling-detach-copy-'));
  const files = execFileSync('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], {
    cwd: ROOT,
    encoding: 'utf8',
  })
    .split('\0')
    .filter((file) => file && existsSync(join(ROOT, file)));
  for (const file of files) {
    mkdirSync(dirname(join(dir, file)), { recursive: true });
    cpSync(join(ROOT, file), join(dir, file));
  }
  symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'), 'dir');
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true, maxRetries: 5 }) };
}

export interface StartedStack {
  /** The npm process, leader of its own process group (as a terminal's foreground job is). */
  npm: ChildProcess;
  file: StackFile;
  output(): string;
  /** Every process under npm, found by parent pid (serverless-offline runs in a session of its own). */
  processes(): number[];
}

/** `npm start -- --ephemeral-ports` in `dir`, resolved once the stack has written .local/stack.json. */
export async function npmStart(dir: string, timeoutMs = 120_000): Promise<StartedStack> {
  const npm = spawn('npm', ['start', '--', '--ephemeral-ports'], {
    cwd: dir,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  npm.stdout?.on('data', (chunk) => (output += chunk));
  npm.stderr?.on('data', (chunk) => (output += chunk));
  const stackFile = join(dir, '.local', 'stack.json');
  const deadline = Date.now() + timeoutMs;
  while (!existsSync(stackFile) || !output.includes('scaling-detach is running locally')) {
    if (npm.exitCode !== null) throw new Error(`npm start exited with ${npm.exitCode}: ${output}`);
    if (Date.now() > deadline) throw new Error(`npm start did not start in ${timeoutMs} ms: ${output}`);
    await sleep(250);
  }
  const file = JSON.parse(readFileSync(stackFile, 'utf8')) as StackFile;
  return { npm, file, output: () => output, processes: () => descendantsOf(npm.pid as number) };
}

/** Pids under `root` (itself included), from /proc. */
export function descendantsOf(root: number): number[] {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const parent = parentOf(Number(entry));
    if (parent !== undefined) children.set(parent, [...(children.get(parent) ?? []), Number(entry)]);
  }
  const found: number[] = [];
  const queue = [root];
  while (queue.length > 0) {
    const pid = queue.shift() as number;
    found.push(pid);
    queue.push(...(children.get(pid) ?? []));
  }
  return found;
}

function stat(pid: number): string[] | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name, in parentheses, may hold spaces: the fields after it are what we read.
    return text.slice(text.lastIndexOf(')') + 2).split(' ');
  } catch {
    return undefined;
  }
}

const parentOf = (pid: number) => {
  const fields = stat(pid);
  return fields ? Number(fields[1]) : undefined;
};

/** Alive, and not a zombie waiting for a parent (which holds no port and runs nothing). */
export const isRunning = (pid: number) => {
  const state = stat(pid)?.[0];
  return state !== undefined && state !== 'Z' && state !== 'X';
};

/** Waits until none of the pids runs and nothing accepts connections on the ports; returns what is left. */
export async function leftOver(pids: number[], ports: number[], timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const running = pids.filter(isRunning);
    const open = (
      await Promise.all(ports.map(async (port) => ((await accepts(port)) ? port : undefined)))
    ).filter((port) => port !== undefined);
    if ((running.length === 0 && open.length === 0) || Date.now() > deadline) return { running, open };
    await sleep(250);
  }
}

/** Clean-up after a test that failed midway: Ctrl-C, then SIGKILL by pid to whatever is still running. */
export async function stopForGood(stack: StartedStack | undefined): Promise<void> {
  if (!stack) return;
  const pids = stack.processes();
  try {
    process.kill(-(stack.npm.pid as number), 'SIGINT');
  } catch {
    // already gone
  }
  const { running } = await leftOver(pids, [], 20_000);
  for (const pid of running) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
}
