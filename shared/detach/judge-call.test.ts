import { describe, expect, it } from 'vitest';
import type { ErrorKind } from '../errors.ts';
import { type FailedCall, judgeFailedCall, mayHaveActed } from './judge-call.ts';
import type { RejectedRecord } from './ports.ts';

const NOW = new Date('2026-12-01T00:00:00Z');

const aRecord = (overrides: Partial<RejectedRecord> = {}): RejectedRecord => ({
  requestId: `req-${Math.random().toString(36).slice(2, 8)}`,
  action: 'detach-instances',
  status: 'SUBMITTING',
  attempts: 0,
  createdAt: NOW.toISOString(),
  updatedAt: NOW.toISOString(),
  ...overrides,
});

const aFailedCall = (overrides: Partial<FailedCall> & { kind?: ErrorKind } = {}): FailedCall => {
  const { kind = 'transient', ...rest } = overrides;
  return {
    intent: { calls: 0 },
    records: [aRecord()],
    error: { code: 'SomeCode', kind, message: 'the cloud said so' },
    idempotentByToken: true,
    gone: undefined,
    maxCallAttempts: 3,
    settleMs: 10_000,
    now: NOW,
    backoffUntil: (_kind, attempt) => NOW.getTime() + attempt * 1_000,
    ...rest,
  };
};

describe('mayHaveActed', () => {
  it('is true after an unanswered call or for a repeat, false for a first call refused with an answer', () => {
    expect(mayHaveActed({ calls: 0 }, 'transient')).toBe(true);
    expect(mayHaveActed({ calls: 1 }, 'busy')).toBe(true);
    expect(mayHaveActed({ calls: 0 }, 'throttled')).toBe(false);
    expect(mayHaveActed({ calls: 0 }, 'fatal')).toBe(false);
  });
});

describe('judgeFailedCall', () => {
  it('takes the call as accepted when what it takes out is gone, whatever the answer', () => {
    for (const kind of ['transient', 'busy', 'throttled', 'fatal'] as const) {
      const judged = judgeFailedCall(aFailedCall({ kind, intent: { calls: 1 }, gone: 'all' }));
      expect(judged.outcome.kind).toBe('accepted');
      expect(judged.ended).toEqual([]);
    }
  });

  it('never fails a request on its last attempt after an unanswered call: the intent stays', () => {
    const records: FailedCall['records'] = [aRecord({ attempts: 2 })];

    const judged = judgeFailedCall(aFailedCall({ kind: 'transient', records, gone: 'none' }));

    expect(judged.ended).toEqual([]);
    expect(judged.outcome).toMatchObject({ kind: 'ambiguous', countsAsAttempt: true });
  });

  it('keeps the intent on a busy or throttled repeat, even with a token (busy is not evidence)', () => {
    for (const kind of ['busy', 'throttled'] as const) {
      const judged = judgeFailedCall(
        aFailedCall({ kind, intent: { calls: 1 }, gone: 'none', records: [aRecord({ attempts: 5 })] }),
      );
      expect(judged.outcome).toMatchObject({ kind: 'ambiguous', countsAsAttempt: kind !== 'busy' });
      expect(judged.ended).toEqual([]);
    }
  });

  it('takes a refused repeat as accepted when some of what the call takes out is gone (it acted in part)', () => {
    const judged = judgeFailedCall(aFailedCall({ kind: 'fatal', intent: { calls: 1 }, gone: 'some' }));

    expect(judged.outcome.kind).toBe('accepted');
    expect(judged.ended).toEqual([]);
  });

  it('keeps the intent on a refused repeat when the group could not be read', () => {
    const judged = judgeFailedCall(aFailedCall({ kind: 'fatal', intent: { calls: 2 }, gone: undefined }));

    expect(judged.outcome.kind).toBe('ambiguous');
  });

  it('fails a refused repeat only when the group still holds all it takes out', () => {
    const judged = judgeFailedCall(aFailedCall({ kind: 'fatal', intent: { calls: 1 }, gone: 'none' }));

    expect(judged.ended.map((event) => event.status)).toEqual(['Failed']);
    expect(judged.outcome).toMatchObject({ kind: 'refused', cloudDidNotAct: false });
  });

  it('fails a first call refused for good; a merged one sends each request alone first', () => {
    const alone = judgeFailedCall(aFailedCall({ kind: 'fatal' }));
    const merged = judgeFailedCall(aFailedCall({ kind: 'fatal', records: [aRecord(), aRecord()] }));

    expect(alone.ended.map((event) => event.error?.code)).toEqual(['SomeCode']);
    expect(alone.outcome).toMatchObject({ kind: 'refused', cloudDidNotAct: true });
    expect(merged.ended).toEqual([]);
    expect(merged.outcome).toMatchObject({ kind: 'refused', cloudDidNotAct: true });
    expect(merged.outcome.kind === 'refused' && merged.outcome.requeue.map((r) => r.countsAsAttempt)).toEqual(
      [false, false],
    );
  });

  it('ends only the records whose throttled first calls used up their attempts', () => {
    const spent = aRecord({ attempts: 2 });
    const fresh = aRecord({ attempts: 0 });

    const judged = judgeFailedCall(aFailedCall({ kind: 'throttled', records: [spent, fresh] }));

    expect(judged.ended.map((event) => [event.requestId, event.error?.code])).toEqual([
      [spent.requestId, 'RetriesExhausted'],
    ]);
    expect(judged.outcome.kind === 'refused' && judged.outcome.requeue.map((r) => r.requestId)).toEqual([
      fresh.requestId,
    ]);
  });

  it('requeues a busy first call without counting it, with a backoff', () => {
    const judged = judgeFailedCall(aFailedCall({ kind: 'busy', records: [aRecord({ attempts: 9 })] }));

    expect(judged.ended).toEqual([]);
    expect(judged.outcome).toMatchObject({ kind: 'refused', retryAfter: NOW.getTime() + 1_000 });
  });

  it('repeats a call without a token only after it can no longer act', () => {
    const judged = judgeFailedCall(aFailedCall({ kind: 'transient', idempotentByToken: false }));

    expect(judged.outcome).toMatchObject({ kind: 'ambiguous', retryAfter: NOW.getTime() + 10_000 });
  });
});
