import { z } from 'zod';

export const CHAOS_FAULTS = ['throttle', 'serverError', 'dropBefore', 'dropAfter', 'slow'] as const;
export type ChaosFault = (typeof CHAOS_FAULTS)[number];

const rate = z.number().min(0).max(1);

/** `POST /admin/chaos`: each call draws one fault (or none) with these probabilities from a seeded PRNG. */
export const ChaosConfig = z
  .strictObject({
    seed: z.number().int().optional(),
    rates: z.strictObject({
      throttle: rate.optional(),
      serverError: rate.optional(),
      dropBefore: rate.optional(),
      dropAfter: rate.optional(),
      slow: rate.optional(),
    }),
    slowMs: z.number().int().nonnegative().default(1000),
    /** Only these actions; every action when absent. */
    actions: z.array(z.string()).optional(),
  })
  .refine((config) => Object.values(config.rates).reduce<number>((sum, p) => sum + (p ?? 0), 0) <= 1, {
    message: 'the rates add up to more than 1',
    path: ['rates'],
  });
export type ChaosConfig = z.infer<typeof ChaosConfig>;

/** mulberry32: small, fast, and the same sequence for the same seed on every machine. */
function mulberry32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Random faults for reliability runs. The faults are exclusive: one uniform draw per call falls into
 * throttle, serverError, dropBefore, dropAfter, slow (in that order, each its rate wide) or none.
 */
export class Chaos {
  readonly #random: () => number;
  readonly injected: Record<ChaosFault, number> = {
    throttle: 0,
    serverError: 0,
    dropBefore: 0,
    dropAfter: 0,
    slow: 0,
  };
  calls = 0;

  constructor(readonly config: ChaosConfig) {
    this.#random = mulberry32(config.seed ?? Date.now());
  }

  draw(action: string): ChaosFault | undefined {
    if (this.config.actions && !this.config.actions.includes(action)) return undefined;
    this.calls += 1;
    let u = this.#random();
    for (const fault of CHAOS_FAULTS) {
      const p = this.config.rates[fault] ?? 0;
      if (u < p) {
        this.injected[fault] += 1;
        return fault;
      }
      u -= p;
    }
    return undefined;
  }

  toJSON() {
    return { config: this.config, calls: this.calls, injected: this.injected };
  }
}
