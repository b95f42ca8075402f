import { describe, expect, it } from 'vitest';
import { decideBatch, fitOneCall, missingFrom } from './plan-batch.ts';
import type { OperationRecord } from './ports.ts';
import type { GroupSnapshot } from './preflight.ts';

const NOW = new Date('2026-12-01T00:00:00Z');

const aRecord = (
  instanceIds: string[],
  options: { preflight?: boolean; dryRun?: boolean; plan?: OperationRecord['plan'] } = {},
): OperationRecord => ({
  requestId: `req-${instanceIds.join('-')}`,
  action: 'detach-instances',
  status: 'QUEUED',
  attempts: 0,
  createdAt: NOW.toISOString(),
  updatedAt: NOW.toISOString(),
  request: {
    requestId: `req-${instanceIds.join('-')}`,
    provider: 'aliyun',
    region: 'cn-hangzhou',
    scalingGroupId: 'asg-1',
    instanceIds,
    preflight: options.preflight ?? true,
    dryRun: options.dryRun ?? false,
  },
  ...(options.plan && { plan: options.plan }),
});

const aGroup = (present: string[], overrides: Partial<GroupSnapshot> = {}): GroupSnapshot => ({
  exists: true,
  active: true,
  state: 'Active',
  minSize: 0,
  capacity: present.length,
  checkMinSize: true,
  present: present.map((instanceId) => ({ instanceId, state: 'InService', acceptable: true })),
  ...overrides,
});

describe('fitOneCall', () => {
  it('takes the oldest requests while their instances fit the API and the transaction', () => {
    const records = [aRecord(['a', 'b']), aRecord(['c']), aRecord(['d', 'e'])];

    expect(fitOneCall(records, { instanceLimit: 3, requestLimit: 98 })).toEqual(records.slice(0, 2));
    expect(fitOneCall(records, { instanceLimit: 20, requestLimit: 1 })).toEqual(records.slice(0, 1));
  });

  it('always takes the first, even when it alone is over the limit (the API refuses it for itself)', () => {
    const big = aRecord(['a', 'b', 'c']);

    expect(fitOneCall([big, aRecord(['d'])], { instanceLimit: 2, requestLimit: 98 })).toEqual([big]);
  });
});

describe('decideBatch', () => {
  it('sends each instance once with the plans it fixed, the capacity shrinking request by request', () => {
    const records = [aRecord(['a']), aRecord(['a', 'b'])];

    const decision = decideBatch(records, aGroup(['a', 'b', 'c']), new Set(), NOW);

    expect(decision.call).toEqual(records);
    expect(decision.instanceIds).toEqual(['a', 'b']);
    expect([...decision.plans.keys()]).toEqual(records.map((r) => r.requestId));
    expect(decision.ended).toEqual([]);
  });

  it('ends a request that would go below MinSize once those before it are counted', () => {
    const records = [aRecord(['a']), aRecord(['b'])];

    const decision = decideBatch(records, aGroup(['a', 'b'], { minSize: 1 }), new Set(), NOW);

    expect(decision.call.map((r) => r.requestId)).toEqual([records[0]?.requestId]);
    expect(decision.ended.map((e) => [e.status, e.error?.code])).toEqual([
      ['Failed', 'Preflight.BelowMinSize'],
    ]);
  });

  it('ends dry runs with their plan, and requests whose instances this service already took out', () => {
    const dry = aRecord(['a'], { dryRun: true });
    const done = aRecord(['gone']);

    const decision = decideBatch([dry, done], aGroup(['a']), new Set(['gone']), NOW);

    expect(decision.call).toEqual([]);
    expect(decision.ended.map((e) => [e.status, e.cloud?.statusCode])).toEqual([
      ['DryRun', undefined],
      ['Succeeded', 'AlreadyDetached'],
    ]);
  });

  it('sends without a plan where no preflight was asked or none can be made; a dry run without one ends', () => {
    const plain = aRecord(['a'], { preflight: false });
    const dry = aRecord(['b'], { dryRun: true });

    const decision = decideBatch([plain, dry], undefined, new Set(), NOW);

    expect(decision.call).toEqual([plain]);
    expect(decision.plans.size).toBe(0);
    expect(decision.ended.map((e) => e.cloud?.statusCode)).toEqual(['NoPreflight']);
  });

  it('keeps a plan fixed on an earlier attempt: it sends what that plan sends', () => {
    const plan = {
      send: ['b'],
      alreadyDetached: ['a'],
      notInGroup: [],
      refused: [],
      groupState: 'Active',
      minSize: 0,
      capacity: 2,
    };
    const planned = aRecord(['a', 'b'], { plan });

    const decision = decideBatch([planned], aGroup(['b']), new Set(), NOW);

    expect(decision.instanceIds).toEqual(['b']);
    expect(decision.plans.size).toBe(0);
  });
});

describe('missingFrom', () => {
  it('lists the named instances the group does not show', () => {
    expect(missingFrom(aGroup(['a']), [aRecord(['a', 'b'])])).toEqual(['b']);
    expect(missingFrom(undefined, [aRecord(['a'])])).toEqual([]);
  });
});
