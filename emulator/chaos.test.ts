import { describe, expect, it } from 'vitest';
import { Chaos, ChaosConfig } from './chaos.ts';

const draws = (chaos: Chaos, n: number, action = 'DetachInstances') =>
  Array.from({ length: n }, () => chaos.draw(action));

describe('Chaos', () => {
  it('draws the same faults for the same seed', () => {
    const config = ChaosConfig.parse({ seed: 42, rates: { throttle: 0.2, dropAfter: 0.2 } });

    expect(draws(new Chaos(config), 50)).toEqual(draws(new Chaos(config), 50));
  });

  it('injects each fault at about its rate and counts what it injected', () => {
    const chaos = new Chaos(ChaosConfig.parse({ seed: 7, rates: { throttle: 0.3, serverError: 0.1 } }));
    const drawn = draws(chaos, 2000);

    expect(chaos.injected.throttle).toBe(drawn.filter((f) => f === 'throttle').length);
    expect(chaos.injected.throttle / 2000).toBeGreaterThan(0.25);
    expect(chaos.injected.throttle / 2000).toBeLessThan(0.35);
    expect(chaos.injected.serverError / 2000).toBeGreaterThan(0.07);
    expect(chaos.injected.serverError / 2000).toBeLessThan(0.13);
    expect(chaos.injected.slow + chaos.injected.dropBefore + chaos.injected.dropAfter).toBe(0);
  });

  it('leaves actions outside its list alone', () => {
    const chaos = new Chaos(
      ChaosConfig.parse({ seed: 1, rates: { throttle: 1 }, actions: ['RemoveInstances'] }),
    );

    expect(draws(chaos, 10, 'DetachInstances').every((f) => f === undefined)).toBe(true);
    expect(chaos.draw('RemoveInstances')).toBe('throttle');
    expect(chaos.calls).toBe(1);
  });

  it('refuses rates that add up to more than 1', () => {
    expect(ChaosConfig.safeParse({ rates: { throttle: 0.6, slow: 0.6 } }).success).toBe(false);
  });
});
