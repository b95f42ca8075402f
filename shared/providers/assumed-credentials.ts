/** Credentials that end: what an STS AssumeRole answers, whichever cloud. */
export interface ExpiringCredentials {
  expiresAt: Date;
}

export interface AssumedCredentialsOptions<C extends ExpiringCredentials> {
  /** Assumes the role of one account (an STS AssumeRole call). */
  assume: (key: string) => Promise<C>;
  /** Milliseconds since the epoch. */
  now: () => number;
  /**
   * How long before their end credentials are replaced (default five minutes): a call signed just before the end
   * could reach the cloud just after it. Credentials that live shorter than four times this are replaced after
   * three quarters of their life instead.
   */
  refreshBeforeMs?: number;
}

interface Entry<C> {
  credentials: C;
  /** From then on, the next get assumes the role again. */
  refreshAt: number;
}

/**
 * Temporary credentials per account, cached until shortly before they end and refreshed once: every caller that
 * needs an account while its credentials are being assumed shares the one AssumeRole in flight, so a batch of
 * records for one account costs one STS call, not one each. A failed AssumeRole is not kept: the next get tries
 * again (while the previous credentials have not ended, they are served meanwhile). Nothing here logs; the
 * credentials are never part of an error.
 */
export class AssumedCredentials<C extends ExpiringCredentials> {
  readonly #options: AssumedCredentialsOptions<C>;
  readonly #entries = new Map<string, Entry<C>>();
  readonly #inFlight = new Map<string, Promise<C>>();

  constructor(options: AssumedCredentialsOptions<C>) {
    this.#options = options;
  }

  get(key: string): Promise<C> {
    const entry = this.#entries.get(key);
    if (entry && this.#options.now() < entry.refreshAt) return Promise.resolve(entry.credentials);
    return this.#inFlight.get(key) ?? this.#refresh(key, entry);
  }

  /**
   * Forgets an account's credentials after the cloud refused them (an expired or mismatched token), so that the
   * next get assumes the role again. `stale` says whether the cached ones are those that were refused: among many
   * concurrent calls refused with the same credentials, only the first drops them, and none drops the fresh ones
   * another has already fetched.
   */
  invalidate(key: string, stale: (cached: C) => boolean = () => true): void {
    const entry = this.#entries.get(key);
    if (entry && stale(entry.credentials)) this.#entries.delete(key);
  }

  #refresh(key: string, previous: Entry<C> | undefined): Promise<C> {
    const issuedAt = this.#options.now();
    const pending = this.#options.assume(key).then(
      (credentials) => {
        this.#inFlight.delete(key);
        this.#entries.set(key, { credentials, refreshAt: this.#refreshAt(issuedAt, credentials) });
        return credentials;
      },
      (error: unknown) => {
        this.#inFlight.delete(key);
        // Still valid, only inside the margin: better than failing every call until STS answers again.
        if (
          previous &&
          this.#options.now() < previous.credentials.expiresAt.getTime() &&
          this.#entries.get(key) === previous
        )
          return previous.credentials;
        throw error;
      },
    );
    this.#inFlight.set(key, pending);
    return pending;
  }

  #refreshAt(issuedAt: number, credentials: C): number {
    const expiresAt = credentials.expiresAt.getTime();
    const margin = Math.min(this.#options.refreshBeforeMs ?? 300_000, Math.max(0, expiresAt - issuedAt) / 4);
    return expiresAt - margin;
  }
}
