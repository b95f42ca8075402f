/**
 * Nonces seen within a time window. A nonce older than the window counts as unseen, exactly as if it had been
 * deleted the moment it aged out; the memory is freed a bucket at a time, so a call costs O(1) amortised
 * instead of a scan over every nonce.
 */
export class NonceWindow {
  readonly #seen = new Map<string, number>();
  /** Keys by the bucket (of `bucketMs`) of the time they were seen, oldest bucket first. */
  readonly #buckets = new Map<number, string[]>();

  constructor(
    private readonly windowMs: number,
    private readonly bucketMs = Math.max(1, Math.ceil(windowMs / 16)),
  ) {}

  /** Whether `key` was seen within the window before `now`. */
  has(key: string, now: number): boolean {
    const at = this.#seen.get(key);
    return at !== undefined && at >= now - this.windowMs;
  }

  add(key: string, now: number): void {
    this.forget(now);
    this.#seen.set(key, now);
    const bucket = Math.floor(now / this.bucketMs);
    const keys = this.#buckets.get(bucket);
    if (keys) keys.push(key);
    else this.#buckets.set(bucket, [key]);
  }

  get size(): number {
    return this.#seen.size;
  }

  /** Drops the buckets wholly older than the window (Map iteration is insertion order: oldest first). */
  private forget(now: number): void {
    const horizon = now - this.windowMs;
    for (const [bucket, keys] of this.#buckets) {
      if ((bucket + 1) * this.bucketMs > horizon) break;
      for (const key of keys)
        if ((this.#seen.get(key) ?? Number.POSITIVE_INFINITY) < horizon) this.#seen.delete(key);
      this.#buckets.delete(bucket);
    }
  }
}
