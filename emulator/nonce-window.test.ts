import { describe, expect, it } from 'vitest';
import { NonceWindow } from './nonce-window.ts';

describe('NonceWindow', () => {
  it('refuses a nonce seen within the window and accepts it once the window has passed', () => {
    const window = new NonceWindow(15 * 60_000);
    window.add('k:n1', 1_000_000);

    expect(window.has('k:n1', 1_000_000 + 15 * 60_000)).toBe(true);
    expect(window.has('k:n1', 1_000_000 + 15 * 60_000 + 1)).toBe(false);
    expect(window.has('k:n2', 1_000_000)).toBe(false);
  });

  it('frees the memory of nonces older than the window as time goes on', () => {
    const window = new NonceWindow(60_000);
    for (let i = 0; i < 1000; i++) window.add(`old-${i}`, i);
    window.add('new', 10 * 60_000);

    expect(window.size).toBe(1);
  });

  it('keeps a nonce re-seen later for the later time', () => {
    const window = new NonceWindow(60_000);
    window.add('k', 0);
    window.add('k', 50_000);
    window.add('other', 100_000);

    expect(window.has('k', 100_000)).toBe(true);
  });
});
