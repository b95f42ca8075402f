/** A list with a first item: what a checked-non-empty list is typed as, so that its first needs no check. */
export type NonEmpty<T> = readonly [T, ...T[]];

export const isNonEmpty = <T>(items: readonly T[]): items is NonEmpty<T> => items.length > 0;

/** `map` that keeps the list known non-empty. */
export const mapNonEmpty = <T, R>(items: NonEmpty<T>, map: (item: T) => R): [R, ...R[]] => [
  map(items[0]),
  ...items.slice(1).map((item) => map(item)),
];

/** The two halves of a list of two or more (the first the larger), or undefined for a single item. */
export function halvesOf<T>(items: NonEmpty<T>): [NonEmpty<T>, NonEmpty<T>] | undefined {
  const half = Math.ceil(items.length / 2);
  const first = items.slice(0, half);
  const second = items.slice(half);
  return isNonEmpty(first) && isNonEmpty(second) ? [first, second] : undefined;
}

export function chunk<T>(items: readonly T[], size: number): T[][] {
  const chunks: T[][] = [];
  for (let i = 0; i < items.length; i += size) chunks.push(items.slice(i, i + size));
  return chunks;
}

/** Runs `work` over `items` with at most `limit` in flight. */
export async function mapLimit<T, R>(
  items: readonly T[],
  limit: number,
  work: (item: T) => Promise<R>,
): Promise<R[]> {
  const results: R[] = new Array(items.length);
  // One iterator shared by the workers: each takes the next item as it comes free.
  const queue = items.entries();
  const worker = async () => {
    for (const [index, item] of queue) results[index] = await work(item);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

/**
 * Runs tasks as they come with at most `limit` at once: `start` waits for a free slot, so a producer reading
 * a stream cannot run ahead of the work (back-pressure), and memory stays bounded by what is in flight.
 */
export function taskPool(limit: number) {
  const running = new Set<Promise<void>>();
  let failure: { error: unknown } | undefined;
  return {
    async start(task: () => Promise<void>): Promise<void> {
      while (running.size >= limit) await Promise.race(running);
      const run: Promise<void> = task()
        .catch((error: unknown) => {
          failure ??= { error };
        })
        .finally(() => running.delete(run));
      running.add(run);
    },
    /** Waits for every task started; rethrows the first failure of one (tasks should handle their own). */
    async drain(): Promise<void> {
      while (running.size > 0) await Promise.race(running);
      if (failure) throw failure.error;
    },
  };
}
