import { describe, expect, it } from 'vitest';
import type { GroupDescription, OperationRecord, RejectedRecord, StoredRecord } from '../detach/ports.ts';
import { groupStatusOf, scopedTo } from './group-view.ts';

const NOW = new Date('2026-12-03T12:00:00.000Z');
const at = (seconds: number) => NOW.getTime() + seconds * 1000;
const record = (requestId: string, overrides: Partial<RejectedRecord> = {}): RejectedRecord => ({
  requestId,
  action: 'detach-instances',
  status: 'QUEUED',
  provider: 'aliyun',
  region: 'cn-hangzhou',
  scalingGroupId: 'asg-1',
  instanceIds: ['i-1'],
  clientToken: `token-of-${requestId}`,
  attempts: 0,
  createdAt: '2026-12-03T11:59:00.000Z',
  updatedAt: '2026-12-03T11:59:00.000Z',
  ...overrides,
});
const where = { provider: 'aliyun', region: 'cn-hangzhou', groupId: 'asg-1' };
const empty: GroupDescription = {
  groupKey: 'aliyun#cn-hangzhou#asg-1',
  intentRecords: [],
  waiting: [],
  waitingCount: 0,
  outcomes: [],
};

describe('the group view of the status API', () => {
  it('shows the lease, the intent with its last answer, the backoff, and never a token', () => {
    const view = groupStatusOf(
      where,
      {
        ...empty,
        lease: { owner: 'dispatcher-7', until: at(20) },
        retryAfter: at(5),
        intent: {
          id: 'intent-1',
          action: 'detach-instances',
          requestIds: ['r1', 'r2'],
          instanceIds: ['i-1', 'i-2'],
          clientToken: 'the-intent-token',
          createdAt: '2026-12-03T11:59:30.000Z',
          calledAt: '2026-12-03T11:59:50.000Z',
          calls: 2,
        },
        intentRecords: [
          record('r1', {
            status: 'SUBMITTING',
            updatedAt: '2026-12-03T11:59:40.000Z',
            lastError: { code: 'Throttling', message: 'older', kind: 'throttled' },
          }),
          record('r2', {
            status: 'SUBMITTING',
            updatedAt: '2026-12-03T11:59:55.000Z',
            lastError: { code: 'ServiceUnavailable', message: 'no answer', kind: 'transient' },
          }),
        ],
      },
      NOW,
    );

    expect(view.lease).toEqual({
      owner: 'dispatcher-7',
      until: '2026-12-03T12:00:20.000Z',
      expiresInSeconds: 20,
      live: true,
    });
    expect(view.retryAfter).toBe('2026-12-03T12:00:05.000Z');
    expect(view.intent).toEqual({
      id: 'intent-1',
      action: 'detach-instances',
      requestIds: ['r1', 'r2'],
      instanceIds: ['i-1', 'i-2'],
      createdAt: '2026-12-03T11:59:30.000Z',
      calledAt: '2026-12-03T11:59:50.000Z',
      calls: 2,
      lastAnswer: { code: 'ServiceUnavailable', message: 'no answer', kind: 'transient' },
    });
    expect(JSON.stringify(view)).not.toMatch(/token/i);
  });

  it('shows the running activity with its age and progress, what waits, and the outcomes with their error', () => {
    const view = groupStatusOf(
      where,
      {
        ...empty,
        retryAfter: at(-5),
        activity: {
          activityId: 'asa-1',
          until: at(600),
          records: [
            record('r1', {
              status: 'IN_PROGRESS',
              activityId: 'asa-1',
              submittedAt: '2026-12-03T11:58:00.000Z',
              cloudProgress: { statusCode: 'InProgress', progress: 40 },
            }),
          ],
        },
        waiting: [
          record('r3', { attempts: 1, lastError: { code: 'ScalingActivityInProgress', message: 'busy' } }),
        ],
        waitingCount: 25,
        outcomes: [
          record('r0', {
            status: 'FAILED',
            completedAt: '2026-12-03T11:57:00.000Z',
            event: {
              version: '1',
              eventId: 'e0',
              requestId: 'r0',
              action: 'detach-instances',
              status: 'Failed',
              provider: 'aliyun',
              region: 'cn-hangzhou',
              scalingGroupId: 'asg-1',
              attempts: 1,
              requestedAt: '2026-12-03T11:56:00.000Z',
              completedAt: '2026-12-03T11:57:00.000Z',
              error: { code: 'Preflight.NotInGroup', message: 'i-9 is not in the group', kind: 'fatal' },
            } as never,
          }),
        ],
      },
      NOW,
    );

    expect(view.retryAfter).toBeUndefined();
    expect(view.activity).toEqual({
      activityId: 'asa-1',
      requestIds: ['r1'],
      startedAt: '2026-12-03T11:58:00.000Z',
      ageSeconds: 120,
      progress: { statusCode: 'InProgress', progress: 40 },
      holdsGroupUntil: '2026-12-03T12:10:00.000Z',
    });
    expect(view.waiting.count).toBe(25);
    expect(view.waiting.oldest).toEqual([
      {
        requestId: 'r3',
        action: 'detach-instances',
        status: 'QUEUED',
        instanceIds: ['i-1'],
        attempts: 1,
        createdAt: '2026-12-03T11:59:00.000Z',
        lastError: { code: 'ScalingActivityInProgress', message: 'busy' },
      },
    ]);
    expect(view.outcomes).toEqual([
      {
        requestId: 'r0',
        action: 'detach-instances',
        status: 'FAILED',
        completedAt: '2026-12-03T11:57:00.000Z',
        error: { code: 'Preflight.NotInGroup', message: 'i-9 is not in the group' },
      },
    ]);
  });

  it('a lease that ran out is shown as such', () => {
    const view = groupStatusOf(where, { ...empty, lease: { owner: 'd', until: at(-30) } }, NOW);

    expect(view.lease).toMatchObject({ live: false, expiresInSeconds: -30 });
  });

  describe("scoped to a caller's accounts", () => {
    const ofAccount = (
      requestId: string,
      account: string | undefined,
      overrides: Partial<RejectedRecord> = {},
    ): OperationRecord => ({
      ...record(requestId, overrides),
      action: 'detach-instances',
      request: {
        requestId,
        provider: 'aliyun',
        region: 'cn-hangzhou',
        scalingGroupId: 'asg-1',
        instanceIds: overrides.instanceIds ?? ['i-1'],
        preflight: true,
        dryRun: false,
        ...(account && { account }),
      },
    });
    const teamA = (candidate: StoredRecord) => candidate.request?.account === 'team-a';
    const mixed: GroupDescription = {
      ...empty,
      lease: { owner: 'dispatcher-7', until: at(20) },
      intent: {
        id: 'intent-1',
        action: 'detach-instances',
        requestIds: ['a1', 'b1'],
        instanceIds: ['i-a1', 'i-b1'],
        clientToken: 'the-intent-token',
        createdAt: '2026-12-03T11:59:30.000Z',
        calls: 1,
      },
      intentRecords: [
        ofAccount('a1', 'team-a', { status: 'SUBMITTING', instanceIds: ['i-a1'] }),
        ofAccount('b1', 'team-b', { status: 'SUBMITTING', instanceIds: ['i-b1'] }),
      ],
      activity: {
        activityId: 'asa-1',
        records: [ofAccount('a0', 'team-a', { status: 'IN_PROGRESS' }), ofAccount('own0', undefined)],
      },
      waiting: [ofAccount('b2', 'team-b'), ofAccount('a2', 'team-a'), ofAccount('own1', undefined)],
      waitingCount: 57,
      outcomes: [
        ofAccount('b3', 'team-b', { status: 'SUCCEEDED' }),
        ofAccount('a3', 'team-a', { status: 'FAILED' }),
      ],
    };

    it("keeps only its accounts' requests: no other id, instance or count leaks", () => {
      const view = groupStatusOf(where, scopedTo(mixed, teamA), NOW);

      expect(view.intent).toMatchObject({ requestIds: ['a1'], instanceIds: ['i-a1'] });
      expect(view.activity?.requestIds).toEqual(['a0']);
      expect(view.waiting).toEqual({ count: 1, oldest: [expect.objectContaining({ requestId: 'a2' })] });
      expect(view.outcomes.map((outcome) => outcome.requestId)).toEqual(['a3']);
      expect(view.lease?.owner).toBe('dispatcher-7');
      const text = JSON.stringify(view);
      for (const other of ['b1', 'b2', 'b3', 'own0', 'own1', 'i-b1', '57'])
        expect(text).not.toContain(`"${other}"`);
    });

    it('drops an intent or an activity none of whose requests is its own', () => {
      const scoped = scopedTo(mixed, (candidate) => candidate.requestId === 'a2');

      expect(scoped.intent).toBeUndefined();
      expect(scoped.activity).toBeUndefined();
      expect(scoped.waiting.map((line) => line.requestId)).toEqual(['a2']);
    });

    it('a group with nothing of its accounts is empty, lease and backoff included (answered 404)', () => {
      expect(
        scopedTo({ ...mixed, retryAfter: at(5) }, (candidate) => candidate.request?.account === 'team-c'),
      ).toEqual({ ...empty });
    });
  });
});
