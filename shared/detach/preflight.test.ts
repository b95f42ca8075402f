import { describe, expect, it } from 'vitest';
import { type GroupSnapshot, planInstances } from './preflight.ts';

const aGroup = (overrides: Partial<GroupSnapshot> = {}): GroupSnapshot => ({
  exists: true,
  active: true,
  state: 'Active',
  minSize: 1,
  capacity: 4,
  checkMinSize: true,
  present: ['i-1', 'i-2', 'i-3', 'i-4'].map((instanceId) => ({
    instanceId,
    state: 'InService',
    acceptable: true,
  })),
  ...overrides,
});

describe('planInstances', () => {
  it('sends the instances in the group and counts those already out as done', () => {
    const decision = planInstances(['i-1', 'i-9'], aGroup());

    expect(decision).toMatchObject({
      kind: 'send',
      plan: { send: ['i-1'], alreadyDetached: ['i-9'], refused: [] },
    });
  });

  it('is done, with no call, when every instance is already out', () => {
    expect(planInstances(['i-8', 'i-9'], aGroup()).kind).toBe('done');
  });

  it('refuses a group that is missing or not active', () => {
    expect(planInstances(['i-1'], aGroup({ exists: false }))).toMatchObject({
      error: { code: 'Preflight.GroupNotFound' },
    });
    expect(planInstances(['i-1'], aGroup({ active: false, state: 'Inactive' }))).toMatchObject({
      error: {
        code: 'Preflight.GroupNotActive',
        message: 'The scaling group is Inactive; it must be active.',
      },
    });
  });

  it('reports instances in a state the API refuses, and sends nothing', () => {
    const group = aGroup({ present: [{ instanceId: 'i-1', state: 'Pending', acceptable: false }] });

    expect(planInstances(['i-1'], group)).toMatchObject({
      kind: 'refuse',
      plan: { refused: [{ instanceId: 'i-1', state: 'Pending' }] },
      error: { code: 'Preflight.InstanceStateRefused' },
    });
  });

  it('refuses what would go below MinSize, unless the provider skips that check', () => {
    expect(planInstances(['i-1', 'i-2', 'i-3', 'i-4'], aGroup())).toMatchObject({
      error: { code: 'Preflight.BelowMinSize' },
    });
    expect(planInstances(['i-1', 'i-2', 'i-3', 'i-4'], aGroup({ checkMinSize: false })).kind).toBe('send');
  });
});
