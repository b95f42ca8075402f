/**
 * Every place where a process can die between two effects (a ledger write, a cloud call, a publish). Each sits
 * right after a port call, so the tests kill a process there by cutting its ports (`CrashableProcess`, with
 * `CRASH_AFTER` naming the port call of each point): production code carries no hook. Then they run the
 * recovery (a redelivery, the next poller pass) and check that nothing was lost or done twice.
 */
export const CRASH_POINTS = [
  /** The webhook wrote the request to the ledger, before it enqueued it. */
  'intake.after-ledger',
  /** The queue function wrote the request to the ledger, before it dispatched its group. */
  'submit.after-begin',
  /** A dispatcher took the group's lease, before it wrote anything else. */
  'dispatch.after-lease',
  /** The intent is written (records SUBMITTING), before the cloud call. */
  'dispatch.after-intent',
  /** The cloud answered (it may have acted), before the outcome is written. */
  'dispatch.after-call',
  /** The outcome is written, before the events of the records it ended are published and the lease released. */
  'dispatch.after-outcome',
  /** The poller freed the group of its finished activity, before it ended the activity's records. */
  'poll.after-group-freed',
  /** A terminal state and its event are written, before the event is published. */
  'complete.after-transition',
  /** The event is published, before it is marked published. */
  'complete.after-publish',
  /** A callback was delivered, before its delivery is recorded. */
  'callback.after-send',
] as const;

export type CrashPoint = (typeof CRASH_POINTS)[number];
