import { describe, expect, it } from 'vitest';
import { chunk, mapLimit, taskPool } from './collections.ts';

describe('chunk and mapLimit', () => {
  it('chunks to the limit', () => {
    expect(chunk([1, 2, 3, 4, 5], 2)).toEqual([[1, 2], [3, 4], [5]]);
  });

  it('never runs more than the limit at once and keeps order', async () => {
    let inFlight = 0;
    let peak = 0;
    const results = await mapLimit([1, 2, 3, 4, 5, 6], 2, async (n) => {
      inFlight++;
      peak = Math.max(peak, inFlight);
      await new Promise((resolve) => setTimeout(resolve, 5));
      inFlight--;
      return n * 10;
    });
    expect(results).toEqual([10, 20, 30, 40, 50, 60]);
    expect(peak).toBe(2);
  });
});

describe('taskPool', () => {
  it('starts tasks as they come, never more than the limit, and holds the producer back meanwhile', async () => {
    const pool = taskPool(2);
    let inFlight = 0;
    let peak = 0;
    const done: number[] = [];
    const started: number[] = [];
    for (const n of [1, 2, 3, 4, 5]) {
      await pool.start(async () => {
        inFlight++;
        peak = Math.max(peak, inFlight);
        await new Promise((resolve) => setTimeout(resolve, 5));
        inFlight--;
        done.push(n);
      });
      started.push(n);
      // The producer only goes on once a slot is free: never more than `limit` started and not done.
      expect(started.length - done.length).toBeLessThanOrEqual(2);
    }
    await pool.drain();
    expect(done.sort()).toEqual([1, 2, 3, 4, 5]);
    expect(peak).toBe(2);
  });

  it('runs every task even when one fails, and drain reports the failure', async () => {
    const pool = taskPool(1);
    const done: string[] = [];
    await pool.start(async () => {
      throw new Error('first');
    });
    await pool.start(async () => {
      done.push('second');
    });
    await expect(pool.drain()).rejects.toThrow('first');
    expect(done).toEqual(['second']);
  });
});
