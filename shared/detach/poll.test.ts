import { describe, expect, it } from 'vitest';
import { type EndedReport, judgeEnded } from './judge-ended.ts';
import { stopReadingAtFor } from './poll-loop.ts';
import type { OperationRecord } from './ports.ts';

describe('stopReadingAtFor', () => {
  it('keeps 15 s at the end of the invocation to finish what was read', () => {
    expect(stopReadingAtFor(1_000, 60_000)).toBe(1_000 + 45_000);
  });

  it('never stops reading in the first half of a short invocation', () => {
    expect(stopReadingAtFor(1_000, 20_000)).toBe(1_000 + 10_000);
    expect(stopReadingAtFor(1_000, 6_000)).toBe(1_000 + 3_000);
  });
});

describe('judgeEnded', () => {
  const clock = { now: () => new Date('2026-12-01T00:00:00Z') };
  const aRecord = (instanceIds: string[], plan?: OperationRecord['plan']): OperationRecord => ({
    requestId: `req-${instanceIds.join('-')}`,
    action: 'detach-instances',
    status: 'IN_PROGRESS',
    attempts: 1,
    createdAt: '2026-12-01T00:00:00Z',
    updatedAt: '2026-12-01T00:00:00Z',
    activityId: 'asa-1',
    request: {
      requestId: 'r',
      provider: 'aliyun',
      region: 'cn-hangzhou',
      scalingGroupId: 'asg-1',
      instanceIds,
      preflight: false,
      dryRun: false,
    },
    ...(plan && { plan }),
  });
  const warning: EndedReport = { activityId: 'asa-1', phase: 'partial', statusCode: 'Warning' };

  it("judges each request of a merged call's Partial by its own instances", () => {
    const remaining = { remaining: new Set(['i-b']) };

    const statuses = [['i-a'], ['i-b'], ['i-a', 'i-b']].map(
      (ids) => judgeEnded({ clock }, aRecord(ids), warning, remaining).status,
    );

    expect(statuses).toEqual(['Succeeded', 'Failed', 'Partial']);
  });

  it('names exactly what left in a Partial', () => {
    const event = judgeEnded({ clock }, aRecord(['i-a', 'i-b']), warning, { remaining: new Set(['i-b']) });

    expect(event.instances).toEqual({ detached: ['i-a'], notDetached: ['i-b'] });
  });

  it('takes a successful activity at its word, Partial where the preflight found instances not in the group', () => {
    const succeeded: EndedReport = { ...warning, phase: 'succeeded', statusCode: 'Successful' };
    const plan = {
      send: ['i-a'],
      alreadyDetached: [],
      notInGroup: ['i-x'],
      refused: [],
      groupState: 'Active',
      minSize: 0,
      capacity: 3,
    };

    expect(judgeEnded({ clock }, aRecord(['i-a']), succeeded, undefined).status).toBe('Succeeded');
    expect(judgeEnded({ clock }, aRecord(['i-a', 'i-x'], plan), succeeded, undefined).status).toBe('Partial');
  });

  it('judges a server group request by whether its server groups are gone', () => {
    const failed: EndedReport = { ...warning, phase: 'failed', statusCode: 'Failed' };
    const record = aRecord([]);

    expect(
      judgeEnded({ clock }, record, failed, { reconciled: new Map([[record.requestId, true]]) }).status,
    ).toBe('Succeeded');
    expect(judgeEnded({ clock }, record, failed, { reconciled: new Map() }).status).toBe('Failed');
  });
});
