import { describe, expect, it } from 'vitest';
import { describeGroup } from './group-format.ts';

describe('npm run group, as a person reads it', () => {
  it('says what holds the group, what runs, what waits and what ended', () => {
    const text = describeGroup({
      provider: 'aliyun',
      region: 'cn-hangzhou',
      groupId: 'asg-1',
      readAt: '2026-12-03T12:00:00.000Z',
      lease: { owner: 'dispatcher-7', until: '2026-12-03T12:00:20.000Z', expiresInSeconds: 20, live: true },
      retryAfter: '2026-12-03T12:00:05.000Z',
      intent: {
        id: 'intent-1',
        action: 'detach-instances',
        requestIds: ['r1'],
        instanceIds: ['i-1'],
        createdAt: '2026-12-03T11:59:30.000Z',
        calledAt: '2026-12-03T11:59:50.000Z',
        calls: 2,
        lastAnswer: { code: 'ServiceUnavailable', message: 'no answer', kind: 'transient' },
      },
      activity: {
        activityId: 'asa-1',
        requestIds: ['r0'],
        ageSeconds: 120,
        progress: { statusCode: 'InProgress', progress: 40 },
      },
      waiting: {
        count: 2,
        oldest: [
          {
            requestId: 'r3',
            action: 'detach-instances',
            status: 'QUEUED',
            attempts: 0,
            createdAt: '2026-12-03T11:59:00.000Z',
          },
        ],
      },
      outcomes: [
        {
          requestId: 'r9',
          action: 'detach-instances',
          status: 'FAILED',
          completedAt: '2026-12-03T11:57:00.000Z',
          error: { code: 'Preflight.NotInGroup', message: 'i-9 is not in the group' },
        },
      ],
    });

    expect(text.split('\n')).toEqual([
      'group     aliyun cn-hangzhou asg-1',
      'lease     held by dispatcher-7 until 2026-12-03T12:00:20.000Z (20 s left)',
      'backoff   nothing is sent before 2026-12-03T12:00:05.000Z',
      'intent    intent-1 detach-instances for r1 (instances i-1); written 2026-12-03T11:59:30.000Z, called 2 times, last 2026-12-03T11:59:50.000Z; last answer: ServiceUnavailable: no answer (transient)',
      'activity  asa-1 running for 120 s, InProgress 40%; requests r0',
      'waiting   2, oldest first:',
      '  2026-12-03T11:59:00.000Z r3 detach-instances',
      '  ... and 1 more',
      'outcomes  the last ten, newest first:',
      '  2026-12-03T11:57:00.000Z r9 FAILED Preflight.NotInGroup: i-9 is not in the group',
      '',
    ]);
  });

  it('an idle group reads as free', () => {
    const text = describeGroup({
      provider: 'tencent',
      region: 'ap-guangzhou',
      groupId: 'asg-2',
      readAt: '2026-12-03T12:00:00.000Z',
      waiting: { count: 0, oldest: [] },
      outcomes: [],
    });

    expect(text).toContain('lease     free');
    expect(text).toContain('intent    none');
    expect(text).toContain('outcomes  none');
  });
});
