import { describe, expect, it } from 'vitest';
import { inMemoryDeps } from '../../test/support/in-memory.ts';
import type { DetachInstancesRequest } from '../contracts/index.ts';
import { DetachError } from '../errors.ts';
import { PUBLISH_GRACE_MS } from './completion.ts';
import { pollActivities, pollRepeatedly } from './poll.ts';

async function setup(count: number, region = 'cn-hangzhou') {
  const { deps, provider, clock } = inMemoryDeps();
  for (let i = 1; i <= count; i++) {
    const request: DetachInstancesRequest = {
      requestId: `r-${i}`,
      provider: 'aliyun',
      region,
      scalingGroupId: 'asg',
      instanceIds: [`i-${i}`],
      preflight: true,
      dryRun: false,
    };
    await deps.ledger.begin(
      { requestId: request.requestId, action: 'detach-instances', request, clientToken: request.requestId },
      clock.now(),
    );
    await deps.ledger.markSubmitted(request.requestId, { activityId: `asa-${i}` }, clock.now());
  }
  return { deps, provider, clock };
}

const report = (
  id: string,
  statusCode: string,
  phase: 'pending' | 'succeeded' | 'partial' | 'failed',
  extra = {},
) => ({
  activityId: id,
  statusCode,
  phase,
  ...extra,
});

describe('pollActivities', () => {
  it('asks in batches of 20 and emits one event per finished activity', async () => {
    const { deps, provider } = await setup(45);
    for (let i = 1; i <= 45; i++)
      provider.activities.set(`asa-${i}`, report(`asa-${i}`, 'Successful', 'succeeded'));

    const summary = await pollActivities(deps);

    expect(provider.describeCalls.map((ids) => ids.length)).toEqual([20, 20, 5]);
    expect(summary.completed).toEqual({ Succeeded: 45 });
    expect(deps.publisher.events).toHaveLength(45);
    expect(new Set(deps.publisher.events.map((e) => e.requestId)).size).toBe(45);
  });

  it('maps Warning to Partial, Failed and Rejected to Failed, and leaves InProgress alone', async () => {
    const { deps, provider } = await setup(4);
    provider.activities.set(
      'asa-1',
      report('asa-1', 'Warning', 'partial', { statusMessage: '1 of 2 detached' }),
    );
    provider.activities.set(
      'asa-2',
      report('asa-2', 'Failed', 'failed', { errorCode: 'X', errorMessage: 'broke' }),
    );
    provider.activities.set('asa-3', report('asa-3', 'Rejected', 'failed'));
    provider.activities.set('asa-4', report('asa-4', 'InProgress', 'pending', { progress: 40 }));

    const summary = await pollActivities(deps);

    const byId = Object.fromEntries(deps.publisher.events.map((e) => [e.requestId, e]));
    expect(byId['r-1']).toMatchObject({
      status: 'Partial',
      cloud: { statusCode: 'Warning', statusMessage: '1 of 2 detached' },
    });
    expect(byId['r-2']).toMatchObject({ status: 'Failed', error: { code: 'X', message: 'broke' } });
    expect(byId['r-3']).toMatchObject({ status: 'Failed', error: { code: 'ActivityRejected' } });
    expect(byId['r-4']).toBeUndefined();
    expect(summary.stillInProgress).toBe(1);
  });

  it('records the progress of a running activity for the status API, only when it moved', async () => {
    const { deps, provider } = await setup(1);
    const recorded: unknown[] = [];
    const recordProgress = deps.ledger.recordProgress.bind(deps.ledger);
    deps.ledger.recordProgress = async (id, progress) => {
      recorded.push(progress);
      await recordProgress(id, progress);
    };
    provider.activities.set('asa-1', report('asa-1', 'InProgress', 'pending', { progress: 40 }));

    await pollActivities(deps);
    await pollActivities(deps);
    provider.activities.set('asa-1', report('asa-1', 'InProgress', 'pending', { progress: 80 }));
    await pollActivities(deps);

    expect(recorded).toEqual([
      { statusCode: 'InProgress', progress: 40 },
      { statusCode: 'InProgress', progress: 80 },
    ]);
    expect(deps.ledger.records.get('r-1')?.cloudProgress).toEqual({ statusCode: 'InProgress', progress: 80 });
  });

  it('never emits a second event on the next pass', async () => {
    const { deps, provider } = await setup(1);
    provider.activities.set('asa-1', report('asa-1', 'Successful', 'succeeded'));

    await pollActivities(deps);
    await pollActivities(deps);

    expect(deps.publisher.events).toHaveLength(1);
  });

  it('times out an activity still running after the configured age', async () => {
    const { deps, provider, clock } = await setup(1);
    provider.activities.set('asa-1', report('asa-1', 'InProgress', 'pending'));
    clock.advance(60_001);

    await pollActivities(deps);

    expect(deps.publisher.events[0]).toMatchObject({ status: 'TimedOut', error: { code: 'TimedOut' } });
  });

  it('republishes a terminal record whose event did not go out, once its writer is surely gone', async () => {
    const { deps, provider, clock } = await setup(1);
    provider.activities.set('asa-1', report('asa-1', 'Successful', 'succeeded'));
    deps.publisher.failNext = 1;
    await expect(pollActivities(deps)).rejects.toThrow('bus unavailable');

    const tooSoon = await pollActivities(deps);
    clock.advance(PUBLISH_GRACE_MS);
    const later = await pollActivities(deps);

    expect(tooSoon.republished).toBe(0);
    expect(later.republished).toBe(1);
    expect(deps.publisher.events).toHaveLength(1);
  });

  it('keeps going when one describe call fails, and retries it next pass', async () => {
    const { deps, provider } = await setup(1);
    provider.describeActivities = async () => {
      throw new DetachError('Throttling', 'slow down', 'throttled');
    };

    const summary = await pollActivities(deps);

    expect(summary.failedBatches).toEqual([
      {
        provider: 'aliyun',
        region: 'cn-hangzhou',
        activityIds: ['asa-1'],
        code: 'Throttling',
        message: 'slow down',
      },
    ]);
    expect(deps.ledger.records.get('r-1')?.status).toBe('IN_PROGRESS');
  });
});

describe('pollRepeatedly', () => {
  it('passes every interval until nothing is left, within the deadline', async () => {
    const { deps, provider, clock } = await setup(1);
    provider.activities.set('asa-1', report('asa-1', 'InProgress', 'pending'));
    const sleeps: number[] = [];
    const sleep = async (ms: number) => {
      sleeps.push(ms);
      clock.advance(ms);
      if (sleeps.length === 2) provider.activities.set('asa-1', report('asa-1', 'Successful', 'succeeded'));
    };

    const passes = await pollRepeatedly(deps, {
      intervalMs: 5000,
      deadline: clock.now().getTime() + 45_000,
      sleep,
    });

    expect(passes.map((p) => p.completed.Succeeded ?? 0)).toEqual([0, 0, 1]);
    expect(sleeps).toEqual([5000, 5000]);
  });

  it('stops at the deadline', async () => {
    const { deps, provider, clock } = await setup(1);
    provider.activities.set('asa-1', report('asa-1', 'InProgress', 'pending'));

    const passes = await pollRepeatedly(deps, {
      intervalMs: 5000,
      deadline: clock.now().getTime() + 12_000,
      sleep: async (ms) => clock.advance(ms),
    });

    expect(passes).toHaveLength(3);
  });
});
