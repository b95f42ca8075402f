import type { TestProject } from 'vitest/node';
import { type StackInfo, startStack } from '../local/stack.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    stack: StackInfo;
  }
}

/** One local stack for the whole run, on free ports, stopped (by the pids it started) when the run ends. */
export default async function setup(project: TestProject) {
  const stack = await startStack({
    ports: 'ephemeral',
    pollIntervalMs: 500,
    // Longer than any retry delay here (RETRY_MAX_SECONDS 5): a retry comes back in time only if the function
    // set its backoff with ChangeMessageVisibility.
    visibilityTimeoutSeconds: 30,
    maxDeliveries: 4,
    maxCallAttempts: 4,
    operationTimeoutSeconds: 12,
  });
  const { emulator: _emulator, stop: _stop, ...info } = stack;
  project.provide('stack', info);
  return async () => {
    await stack.stop();
  };
}
