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
  it('sends the instances in the group; one missing that this service took out counts as done', () => {
    const decision = planInstances(['i-1', 'i-9'], aGroup(), {
      takenOut: new Set(['i-9']),
      ignoreNotInGroup: false,
    });

    expect(decision).toMatchObject({
      kind: 'send',
      plan: { send: ['i-1'], alreadyDetached: ['i-9'], notInGroup: [], refused: [] },
    });
  });

  it('is done, with no call, when every instance is out and this service took each out', () => {
    const decision = planInstances(['i-8', 'i-9'], aGroup(), {
      takenOut: new Set(['i-8', 'i-9']),
      ignoreNotInGroup: false,
    });

    expect(decision.kind).toBe('done');
  });

  it('an instance it never saw is notInGroup: refused when nothing else is done, unless ignored', () => {
    const none = { takenOut: new Set<string>(), ignoreNotInGroup: false };

    expect(planInstances(['i-typo'], aGroup(), none)).toMatchObject({
      kind: 'refuse',
      error: { code: 'Preflight.NotInGroup' },
      plan: { notInGroup: ['i-typo'] },
    });
    expect(planInstances(['i-1', 'i-typo'], aGroup(), none)).toMatchObject({
      kind: 'send',
      plan: { send: ['i-1'], notInGroup: ['i-typo'] },
    });
    expect(planInstances(['i-typo'], aGroup(), { ...none, ignoreNotInGroup: true })).toMatchObject({
      kind: 'done',
      plan: { notInGroup: ['i-typo'] },
    });
  });

  it('counts an instance named twice once', () => {
    expect(planInstances(['i-1', 'i-1'], aGroup())).toMatchObject({ plan: { send: ['i-1'] } });
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
