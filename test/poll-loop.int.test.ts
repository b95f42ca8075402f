import { describe, expect, it } from 'vitest';
import { pollActivities } from '../shared/detach/poll.ts';
import { pollRepeatedly } from '../shared/detach/poll-loop.ts';
import { INDEX_NOT_READ } from '../shared/detach/poll-pass.ts';
import type { Ledger, PendingItem } from '../shared/detach/ports.ts';
import { submitRequest } from '../shared/detach/submit.ts';
import { aDetachRequest, aScalingGroup } from '../support/emulator-admin.ts';
import { aDomain } from './support/domain.ts';

type Domain = Awaited<ReturnType<typeof aDomain>>;

/** `count` requests, each in a group of its own, whose activities run for an hour: the poller follows them. */
async function runningRequests(domain: Domain, count: number): Promise<string[]> {
  const requestIds: string[] = [];
  for (let i = 0; i < count; i++) {
    const group = await aScalingGroup(domain.admin, { activityDurationMs: 3_600_000 });
    const request = aDetachRequest(group, { preflight: false });
    await submitRequest(domain.deps, 'detach-instances', {
      body: request,
      messageId: request.requestId,
      receiveCount: 1,
    });
    requestIds.push(request.requestId);
  }
  return requestIds;
}

/**
 * The real ledger, whose listings of the pending index go through `read` (which sees every listing's items and
 * may take time on the test's clock, or fail), cursors included.
 */
function readingThrough(
  ledger: Ledger,
  read: (items: AsyncIterable<PendingItem>) => AsyncGenerator<PendingItem>,
): Ledger {
  return new Proxy(ledger, {
    get: (target, name) => {
      if (name === 'listPending')
        return (from?: Parameters<Ledger['listPending']>[0]) => {
          const listing = target.listPending(from);
          return { resumeFrom: () => listing.resumeFrom(), [Symbol.asyncIterator]: () => read(listing) };
        };
      const value = Reflect.get(target, name, target);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}

const idOf = (item: PendingItem) => (item.kind === 'record' ? item.record.requestId : item.requestId);

/** The poll loop inside one invocation, on DynamoDB Local against the emulator, with a clock the test moves. */
describe('the poll loop', () => {
  it('starts a pass every interval: the pause is the interval less the pass, and none past the deadline', async () => {
    const domain = await aDomain();
    await runningRequests(domain, 1);
    let now = Date.now();
    const started = now;
    const clock = { now: () => new Date(now) };
    // Every pass takes 700 ms of the test's clock (its reading of the index).
    const slowLedger = readingThrough(domain.ledger, async function* (items) {
      now += 700;
      yield* items;
    });
    const sleeps: number[] = [];

    const passes = await pollRepeatedly(
      { ...domain.deps, clock, ledger: slowLedger },
      {
        intervalMs: 1_000,
        deadline: started + 3_500,
        sleep: async (ms) => {
          sleeps.push(ms);
          now += ms;
        },
      },
    );

    // Passes at 0, 1,000, 2,000 and 3,000 ms; the next would start at 4,000, past the deadline.
    expect(sleeps).toEqual([300, 300, 300]);
    expect(passes.map((pass) => pass.open)).toEqual([1, 1, 1, 1]);
  });

  it('a pass out of time stops reading, and the next invocation goes on where it stopped', async () => {
    const domain = await aDomain({ pendingPageSize: 2 });
    const requestIds = new Set(await runningRequests(domain, 12));
    let now = Date.now();
    const clock = { now: () => new Date(now) };
    // Each item of the index takes 100 ms of the test's clock to read; the listings' items are noted.
    const listings: string[][] = [];
    const slowLedger = readingThrough(domain.ledger, async function* (items) {
      const seen: string[] = [];
      listings.push(seen);
      for await (const item of items) {
        now += 100;
        seen.push(idOf(item));
        yield item;
      }
    });
    const deps = { ...domain.deps, clock, ledger: slowLedger };
    const sleep = async (ms: number) => {
      now += ms;
    };

    // One invocation with time for four items: one pass, which stops reading at its moment.
    const first = await pollRepeatedly(deps, {
      intervalMs: 1_000,
      deadline: now + 500,
      stopReadingAt: now + 450,
      sleep,
    });
    const kept = await domain.ledger.loadPollCursor();
    // The next invocation, with time for two whole passes.
    const second = await pollRepeatedly(deps, { intervalMs: 1_000, deadline: now + 1_500, sleep });

    expect(first.map((pass) => pass.examined)).toEqual([4]);
    expect(first[0]?.resumeFrom).toBeDefined();
    expect(kept).toEqual(first[0]?.resumeFrom);
    // The second invocation's first pass read only what the first had not: together they saw every request...
    const [stopped, resumed, whole] = listings as [string[], string[], string[]];
    expect(new Set([...stopped.slice(0, 4), ...resumed])).toEqual(requestIds);
    expect(resumed.length).toBeLessThan(requestIds.size);
    // ...and a resumed pass that saw nothing open does not end the loop: the next pass reads the whole index.
    expect(second.map((pass) => pass.examined)).toEqual([resumed.length, requestIds.size]);
    expect(new Set(whole)).toEqual(requestIds);
    expect(await domain.ledger.loadPollCursor()).toBeUndefined();
  });

  it('a pass whose reading of the index fails finishes what it read and leaves the place to go on from', async () => {
    const domain = await aDomain({ pendingPageSize: 2 });
    const requestIds = await runningRequests(domain, 6);
    // The index answers `handOut` items, then its next query fails (as a throttled Query would).
    let handOut = 3;
    const failing = readingThrough(domain.ledger, async function* (items) {
      let handed = 0;
      for await (const item of items) {
        if (handed++ === handOut)
          throw Object.assign(new Error('slow down'), { name: 'ProvisionedThroughputExceededException' });
        yield item;
      }
    });

    const first = await pollActivities({ ...domain.deps, ledger: failing });

    expect(first.examined).toBe(3);
    expect(first.failedItems).toContainEqual({
      requestId: INDEX_NOT_READ,
      error: 'ProvisionedThroughputExceededException',
    });
    expect(first.resumeFrom).toBeDefined();
    // What was read was followed to the end of the pass: its progress is written.
    const records = await domain.ledger.getMany(requestIds);
    expect(records.filter((record) => record.cloudProgress)).toHaveLength(3);

    // A pass going on from a place whose reading fails again does not keep that place: the next reads it all.
    handOut = 0;
    const second = await pollActivities(
      { ...domain.deps, ledger: failing },
      { ...(first.resumeFrom && { from: first.resumeFrom }) },
    );
    expect(second.failedItems.map((item) => item.requestId)).toEqual([INDEX_NOT_READ]);
    expect(second.resumeFrom).toBeUndefined();
  });

  it('short passes: a one-pass invocation that leaves work open schedules the next pass, one with nothing left does not', async () => {
    const domain = await aDomain();
    const scheduled: number[] = [];
    const onePass = () => {
      const now = Date.now();
      return pollRepeatedly(domain.deps, {
        intervalMs: 5_000,
        deadline: now,
        sleep: async () => {
          throw new Error('a one-pass invocation never sleeps');
        },
        onWorkLeft: async (startedAt) => {
          scheduled.push(startedAt);
        },
      });
    };

    const idle = await onePass();
    const [requestId] = await runningRequests(domain, 1);
    const before = Date.now();
    const open = await onePass();

    expect(idle).toHaveLength(1);
    expect(open).toHaveLength(1);
    expect(open[0]?.open).toBeGreaterThan(0);
    expect(requestId).toBeDefined();
    // Only the pass that left work open asked for a next pass, with the moment it started.
    expect(scheduled).toHaveLength(1);
    expect(scheduled[0]).toBeGreaterThanOrEqual(before);
  });
});
