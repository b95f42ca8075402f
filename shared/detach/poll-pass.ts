import { callbackDue, deliverCallback } from './callbacks.ts';
import { isNonEmpty, mapLimit, type NonEmpty, taskPool } from './collections.ts';
import { abandonedEvent, PUBLISH_GRACE_MS, publishStored } from './completion.ts';
import { dispatchGroup, groupKeyOf } from './dispatch.ts';
import {
  describeBatch,
  end,
  endUnreadable,
  errorName,
  type Followed,
  followBatch,
  type Pass,
  reconcileRegion,
  writeProgress,
} from './follow-activity.ts';
import { timedOut } from './judge-ended.ts';
import type { PassOptions, PollDeps, PollSummary } from './poll.ts';
import {
  type ActivityReport,
  type GroupKey,
  hasRequest,
  type OperationRecord,
  type PendingItem,
  type StoredRecord,
} from './ports.ts';
import { providerFor } from './provider-for.ts';

/** How a pass names, in `failedItems`, a failure to read the pending index to its end. */
export const INDEX_NOT_READ = 'pending-index';

/** How long the poller leaves an item alone after failing on it. */
const ITEM_BACKOFF_MS = 30_000;

/**
 * What one Describe (or reconciliation) batch shares: the cloud, the region and the member account, whose
 * credentials sign it. One account's throttling or broken role fails only its own batches.
 */
const regionKeyOf = (of: { provider: string; region: string; account?: string | undefined }) =>
  `${of.provider}\u0000${of.region}\u0000${of.account ?? ''}`;
const activityKeyOf = (entry: Followed) => `${regionKeyOf(entry)}\u0000${entry.activityId}`;

/** A Describe call's answer for its activities; undefined when the call failed. */
type Answer = Promise<ReadonlyMap<string, ActivityReport> | undefined>;

const emptySummary = (): PollSummary => ({
  examined: 0,
  describeCalls: 0,
  completed: {},
  republished: 0,
  dispatched: 0,
  callbacks: 0,
  callbacksGivenUp: 0,
  open: 0,
  oldestOpenAgeSeconds: 0,
  failedBatches: [],
  failedItems: [],
});

/**
 * One pass of the poller over every operation that still needs it. Each item is handled on its own. The pass
 * streams: the activities of the pending index are described and followed a batch at a time as its pages
 * arrive (with `concurrency` batches in flight, which holds the reading back), so memory is mostly the work
 * in flight, not the open requests (what grows with them is an entry per activity described and per group).
 */
export class PollPass implements Pass {
  readonly summary = emptySummary();
  /** Groups to dispatch at the end of the pass. */
  readonly groups = new Set<GroupKey>();
  readonly progress: Pass['progress'] = [];
  /** Records to reconcile (no activity), by region. */
  readonly #submitted = new Map<string, NonEmpty<OperationRecord>>();
  readonly #pool;
  /** Activities not described yet, by region, until a batch of the API's limit is full. */
  readonly #unsent = new Map<string, Map<string, Followed>>();
  /**
   * Each activity is described once a pass, however many records share it: records of a merged call sit in
   * different shards, and one that comes after its activity's batch went out is followed with that answer.
   */
  readonly #answers = new Map<string, Answer>();

  constructor(readonly deps: PollDeps) {
    this.#pool = taskPool(deps.concurrency);
  }

  readonly isolate = async (requestId: string, work: () => Promise<void>): Promise<void> => {
    try {
      await work();
    } catch (error) {
      this.summary.failedItems.push({ requestId, error: errorName(error) });
      const retryAt = this.deps.clock.now().getTime() + ITEM_BACKOFF_MS;
      await this.deps.ledger.deferPoll(requestId, retryAt).catch(() => {});
    }
  };

  async run(options: PassOptions): Promise<PollSummary> {
    const { deps, summary } = this;
    await this.#read(options);
    // Kept at once: what follows takes time, and an invocation that runs out of it must not lose the place.
    if (summary.resumeFrom) await options.onStoppedReading?.(summary.resumeFrom);
    for (const regionKey of [...this.#unsent.keys()]) await this.#send(regionKey);
    await this.#pool.drain();
    await writeProgress(this, this.progress.splice(0));
    await mapLimit([...this.#submitted.values()], deps.concurrency, (records) =>
      reconcileRegion(deps, records, summary, this.isolate),
    );
    // Waiting requests go out as their groups come free; a busy group is simply not taken now.
    await mapLimit([...this.groups], deps.concurrency, (groupKey) =>
      this.isolate(groupKey, async () => {
        const result = await dispatchGroup(deps, groupKey);
        if (result.kind !== 'not-now') summary.dispatched++;
      }),
    );
    return summary;
  }

  async #read(options: PassOptions): Promise<void> {
    const listing = this.deps.ledger.listPending(options.from);
    try {
      for await (const item of listing) {
        if (options.stopReadingAt !== undefined && this.deps.clock.now().getTime() >= options.stopReadingAt) {
          const resumeFrom = listing.resumeFrom();
          if (resumeFrom) this.summary.resumeFrom = resumeFrom;
          return;
        }
        await this.#take(item);
      }
    } catch (error) {
      // The index could not be read to its end: what was read is still finished, and the next pass goes on
      // from the page that failed; unless this pass went on from a cursor itself (one that fails is not kept).
      this.summary.failedItems.push({ requestId: INDEX_NOT_READ, error: errorName(error) });
      const resumeFrom = options.from ? undefined : listing.resumeFrom();
      if (resumeFrom) this.summary.resumeFrom = resumeFrom;
    }
  }

  /** One item of the index: ended, counted, or set to be followed (its activity described with others). */
  async #take(item: PendingItem): Promise<void> {
    this.summary.examined++;
    if (item.kind === 'unreadable') {
      await this.isolate(item.requestId, () => endUnreadable(this.deps, item, this.summary));
      return;
    }
    const { record } = item;
    if (record.pollRetryAt && record.pollRetryAt > this.deps.clock.now().getTime()) {
      if (!record.event) this.summary.open++;
      return;
    }
    let following: Followed | undefined;
    await this.isolate(record.requestId, async () => {
      following = await this.#sort(record);
    });
    if (following) await this.#follow(following);
  }

  /** What a record needs this pass; the activity to follow, if any. */
  async #sort(record: StoredRecord): Promise<Followed | undefined> {
    const { deps, summary } = this;
    const now = deps.clock.now();
    const abandoned = abandonedEvent(record, now);
    if (abandoned) {
      await publishStored(deps, abandoned, record.request?.callbackUrl);
      summary.republished++;
      return undefined;
    }
    if (record.event) {
      // Otherwise its writer is publishing it now; if that writer died, a later pass publishes it.
      const url = record.request?.callbackUrl;
      if (deps.callbacks && url && callbackDue(record, now, PUBLISH_GRACE_MS)) {
        const state = await deliverCallback(deps.callbacks, record.event, url, record.callback);
        summary.callbacks++;
        if (state.gaveUpAt) summary.callbacksGivenUp++;
      }
      return undefined;
    }
    if (!hasRequest(record)) return undefined;
    const { request } = record;
    summary.open++;
    const age = Math.round((now.getTime() - Date.parse(record.createdAt)) / 1000);
    summary.oldestOpenAgeSeconds = Math.max(summary.oldestOpenAgeSeconds, age);
    if (record.status === 'QUEUED') {
      // A request waiting for its group: the group is dispatched at the end, unless it waited too long.
      const expired = timedOut(deps, record, undefined);
      if (expired) await end(deps, summary, record, expired);
      else this.groups.add(groupKeyOf(request));
    } else if (record.status === 'SUBMITTING') {
      // Its intent is unresolved (a crash, a lost answer): the group's next dispatcher resolves it.
      this.groups.add(groupKeyOf(request));
    } else if (record.status === 'SUBMITTED') {
      const key = regionKeyOf(request);
      const submitted = this.#submitted.get(key);
      this.#submitted.set(key, submitted ? [...submitted, record] : [record]);
    } else if (record.status === 'IN_PROGRESS' && record.activityId) {
      const { provider, region, account } = request;
      return {
        provider,
        region,
        ...(account && { account }),
        activityId: record.activityId,
        records: [record],
      };
    }
    return undefined;
  }

  async #follow(following: Followed): Promise<void> {
    const answer = this.#answers.get(activityKeyOf(following));
    if (answer) {
      await this.#pool.start(async () => followBatch(this, [following], (await answer) ?? new Map()));
      return;
    }
    const regionKey = regionKeyOf(following);
    const batch = this.#unsent.get(regionKey) ?? new Map<string, Followed>();
    this.#unsent.set(regionKey, batch);
    const entry = batch.get(following.activityId);
    if (entry) entry.records.push(...following.records);
    else batch.set(following.activityId, following);
    if (batch.size >= providerFor(this.deps, following).activityBatchLimit) await this.#send(regionKey);
  }

  async #send(regionKey: string): Promise<void> {
    const batch = [...(this.#unsent.get(regionKey)?.values() ?? [])];
    this.#unsent.delete(regionKey);
    if (!isNonEmpty(batch)) return;
    const { promise: answer, resolve } = Promise.withResolvers<
      ReadonlyMap<string, ActivityReport> | undefined
    >();
    for (const entry of batch) this.#answers.set(activityKeyOf(entry), answer);
    await this.#pool.start(async () => {
      let reports: ReadonlyMap<string, ActivityReport> | undefined;
      try {
        reports = await describeBatch(this.deps, batch, this.summary);
      } finally {
        resolve(reports);
      }
      // Activities the cloud did not report (its answer failed) are only checked against the timeout.
      await followBatch(this, batch, reports ?? new Map());
    });
  }
}
