import type { TerminalStatus } from '../contracts/index.ts';
import type { DispatchDeps } from './dispatch.ts';
import { PollPass } from './poll-pass.ts';
import type { Clock, PendingCursor, ProviderRegistry } from './ports.ts';

export interface PollDeps extends DispatchDeps {
  providers: ProviderRegistry;
  clock: Clock;
  /** An operation still not finished this long after it was accepted (or submitted) ends as TimedOut. */
  timeoutMs: number;
  /** Describe calls in flight at once. */
  concurrency: number;
}

export interface PollSummary {
  examined: number;
  describeCalls: number;
  completed: Partial<Record<TerminalStatus, number>>;
  republished: number;
  /** Groups whose waiting requests were sent (or tried) this pass. */
  dispatched: number;
  /** Callback attempts made this pass (retries, and first attempts whose writer died). */
  callbacks: number;
  /** Callbacks that used up their attempts this pass (the alarm on callbacks given up counts them). */
  callbacksGivenUp: number;
  /** Requests not ended yet: waiting, being sent, or followed in the cloud. */
  open: number;
  /** Age of the oldest open request (seconds), for the alarm on requests that do not move. */
  oldestOpenAgeSeconds: number;
  failedBatches: {
    provider: string;
    region: string;
    /** The member account whose batch failed (issue #21); its batches are its own. */
    account?: string;
    activityIds: string[];
    code: string;
    message: string;
  }[];
  /** Items this pass could not process; each is left alone for a while, the others go on. */
  failedItems: { requestId: string; error: string }[];
  /** The pass stopped reading at its deadline: where the next one goes on. */
  resumeFrom?: PendingCursor;
}

export interface PassOptions {
  /** Go on from where a pass that stopped early left the pending index (only what it had not read). */
  from?: PendingCursor;
  /** Stop reading the pending index at this moment (epoch ms); what was read is still finished. */
  stopReadingAt?: number;
  /** Told where the next pass goes on from, as soon as this one stops reading early. */
  onStoppedReading?: (cursor: PendingCursor) => Promise<void>;
}

/** One pass of the poller over every operation that still needs it (see `PollPass`). */
export const pollActivities = (deps: PollDeps, options: PassOptions = {}): Promise<PollSummary> =>
  new PollPass(deps).run(options);
