import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { DEFAULT_PORTS, type StackPorts } from './stack.ts';

/** Where a running `npm start` says which ports it took, so the CLIs find it (`.local/` is git-ignored). */
const STACK_FILE = fileURLToPath(new URL('../.local/stack.json', import.meta.url));

export interface LocalEndpoints {
  sqs: string;
  dynamodb: string;
  eventBridge: string;
  emulator: string;
  lambda: string;
  http: string;
}

export interface StackFile {
  pid: number;
  endpoints: LocalEndpoints;
  /** Every port the stack listens on, its internal ones included. */
  ports: StackPorts;
}

export function writeStackFile(endpoints: LocalEndpoints, ports: StackPorts): void {
  mkdirSync(fileURLToPath(new URL('../.local/', import.meta.url)), { recursive: true });
  const file: StackFile = { pid: process.pid, endpoints, ports };
  writeFileSync(STACK_FILE, `${JSON.stringify(file, null, 2)}\n`);
}

/** Removes the file only if this process wrote it (a second `npm start` that failed must not remove the first's). */
export function removeStackFile(): void {
  if (readStackFile()?.pid === process.pid) rmSync(STACK_FILE, { force: true });
}

/** `SCALING_DETACH_STACK_FILE` points the CLIs at another stack's file (tests: a stack on free ports). */
export function readStackFile(): StackFile | undefined {
  try {
    return JSON.parse(readFileSync(process.env.SCALING_DETACH_STACK_FILE ?? STACK_FILE, 'utf8')) as StackFile;
  } catch {
    return undefined;
  }
}

const at = (port: number) => `http://127.0.0.1:${port}`;

/** The endpoints of the running `npm start`, or the default ports when it has written none. */
export function localEndpoints(): LocalEndpoints {
  return (
    readStackFile()?.endpoints ?? {
      sqs: at(DEFAULT_PORTS.sqs),
      dynamodb: at(DEFAULT_PORTS.dynamodb),
      eventBridge: at(DEFAULT_PORTS.eventBridge),
      emulator: at(DEFAULT_PORTS.emulator),
      lambda: at(DEFAULT_PORTS.lambda),
      http: at(DEFAULT_PORTS.http),
    }
  );
}
