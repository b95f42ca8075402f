import { describe, expect, it } from 'vitest';
import { stopReadingAtFor } from './poll.ts';

describe('stopReadingAtFor', () => {
  it('keeps 15 s at the end of the invocation to finish what was read', () => {
    expect(stopReadingAtFor(1_000, 60_000)).toBe(1_000 + 45_000);
  });

  it('never stops reading in the first half of a short invocation', () => {
    expect(stopReadingAtFor(1_000, 20_000)).toBe(1_000 + 10_000);
    expect(stopReadingAtFor(1_000, 6_000)).toBe(1_000 + 3_000);
  });
});
