import { errorName } from './follow-activity.ts';
import { type PollDeps, type PollSummary, pollActivities } from './poll.ts';
import type { PendingCursor } from './ports.ts';

const POLL_CURSOR = 'poll-cursor';

/** Time kept, at the end of an invocation, to finish what a pass read (its Describe calls and writes). */
const FINISH_MS = 15_000;

/**
 * When a pass in an invocation with `remainingMs` left stops reading: `FINISH_MS` before its end, but never
 * in the first half of it (a short timeout would otherwise stop every pass before its first item).
 */
export const stopReadingAtFor = (now: number, remainingMs: number): number =>
  now + Math.max(remainingMs - FINISH_MS, remainingMs / 2);

export interface PollLoop {
  /** A pass starts every `intervalMs` (one that takes longer is followed at once). */
  intervalMs: number;
  /** No pass starts after this (epoch ms): the invocation's time, less a margin. */
  deadline: number;
  /**
   * A pass stops reading the pending index at this moment (epoch ms), leaving time to finish what it read
   * before the invocation ends; the next pass, in this invocation or the next, goes on from there.
   */
  stopReadingAt?: number;
  sleep: (ms: number) => Promise<void>;
  /**
   * Called once, as the loop ends at its deadline with work left (something open, failed, or an index not read
   * to its end), with the moment its last pass started: where passes are short invocations, this schedules the
   * next one (a delayed message) instead of sleeping in this one.
   */
  onWorkLeft?: (lastPassStartedAt: number) => Promise<void>;
}

/**
 * Passes every `intervalMs` until the deadline, or until nothing is left to follow: no open request (waiting,
 * being sent, or in the cloud) and nothing that failed, seen by a pass that read the whole index. A 1-minute
 * schedule alone would report an activity's end up to a minute late; looping inside the invocation brings that
 * to about one interval. The passes keep a fixed rate (the pause is the interval less the pass), so a long pass
 * does not stretch the delay further. A pass that cannot read everything in time stops at `stopReadingAt`, and
 * the next one (the next invocation's, through the ledger) starts where it stopped, so the far end of the index
 * is reached however long one pass would take.
 */
export async function pollRepeatedly(deps: PollDeps, loop: PollLoop): Promise<PollSummary[]> {
  const passes: PollSummary[] = [];
  let saved = await deps.ledger.loadPollCursor();
  let from = saved;
  // A failure to keep the place costs a re-read, never an item: it is reported with the pass, not thrown.
  const unsaved: PollSummary['failedItems'] = [];
  const keep = async (cursor: PendingCursor | undefined) => {
    if (cursor === saved) return;
    try {
      await deps.ledger.savePollCursor(cursor);
      saved = cursor;
    } catch (error) {
      unsaved.push({ requestId: POLL_CURSOR, error: errorName(error) });
    }
  };
  for (;;) {
    const started = deps.clock.now().getTime();
    const summary = await pollActivities(deps, {
      ...(from && { from }),
      ...(loop.stopReadingAt !== undefined && { stopReadingAt: loop.stopReadingAt }),
      onStoppedReading: keep,
    });
    passes.push(summary);
    const wholeIndex = from === undefined && summary.resumeFrom === undefined;
    from = summary.resumeFrom;
    // Written only when it changed: stopped early (kept at once, above), or read to the end after a resume.
    await keep(from);
    summary.failedItems.push(...unsaved.splice(0));
    const nothingLeft =
      wholeIndex &&
      summary.open === 0 &&
      summary.failedBatches.length === 0 &&
      summary.failedItems.length === 0;
    const next = started + loop.intervalMs;
    if (nothingLeft) return passes;
    if (next >= loop.deadline) {
      await loop.onWorkLeft?.(started);
      return passes;
    }
    await loop.sleep(Math.max(0, next - deps.clock.now().getTime()));
  }
}
