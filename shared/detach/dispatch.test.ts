import { describe, expect, it } from 'vitest';
import { inMemoryDeps } from '../../test/support/in-memory.ts';
import { DetachError } from '../errors.ts';
import { dispatchGroup } from './dispatch.ts';
import { submitRequest } from './submit.ts';

const setup = inMemoryDeps;

const GROUP = 'aliyun#cn-hangzhou#asg-1';
let counter = 0;
const aRequest = (instanceIds: string[], overrides: Record<string, unknown> = {}) => ({
  requestId: `req-${++counter}`,
  provider: 'aliyun',
  region: 'cn-hangzhou',
  scalingGroupId: 'asg-1',
  instanceIds,
  preflight: false,
  ...overrides,
});
const deliver = (deps: ReturnType<typeof setup>['deps'], body: Record<string, unknown>) =>
  submitRequest(deps, 'detach-instances', { body, messageId: `m-${body.requestId}`, receiveCount: 1 });

describe('dispatchGroup', () => {
  it('sends nothing to a group while an activity of ours runs on it, and the next batch once it ends', async () => {
    const { deps, provider } = setup();
    const first = aRequest(['i-1']);
    await deliver(deps, first);

    const second = await deliver(deps, aRequest(['i-2']));
    await deps.ledger.finishGroupActivity(GROUP, 'asa-1');
    const next = await dispatchGroup(deps, GROUP);

    expect(second).toMatchObject({ kind: 'queued', dispatch: 'not-now' });
    expect(next).toMatchObject({ kind: 'sent', instanceIds: 1 });
    expect(provider.submitCalls).toHaveLength(2);
  });

  it('merges waiting requests up to the API limit (ESS: 20 instances a call), oldest first', async () => {
    const { deps, provider } = setup();
    await deliver(deps, aRequest(['i-0']));
    const waiting = [];
    for (let i = 1; i <= 30; i++) waiting.push(aRequest([`i-${i}`]));
    for (const request of waiting) await deliver(deps, request);

    await deps.ledger.finishGroupActivity(GROUP, 'asa-1');
    const merged = await dispatchGroup(deps, GROUP);
    await deps.ledger.finishGroupActivity(GROUP, 'asa-2');
    const rest = await dispatchGroup(deps, GROUP);

    expect(merged).toMatchObject({
      kind: 'sent',
      instanceIds: 20,
      requestIds: waiting.slice(0, 20).map((r) => r.requestId),
    });
    expect(rest).toMatchObject({ kind: 'sent', instanceIds: 10 });
    expect(provider.submitCalls).toHaveLength(3);
    const records = waiting.map((r) => deps.ledger.records.get(r.requestId));
    expect(records.every((r) => r?.status === 'IN_PROGRESS')).toBe(true);
    expect(new Set(records.slice(0, 20).map((r) => r?.activityId))).toEqual(new Set(['asa-2']));
  });

  it('sends an instance two merged requests both name once', async () => {
    const { deps, provider } = setup();
    await deliver(deps, aRequest(['i-0']));
    await deliver(deps, aRequest(['i-1', 'i-2']));
    await deliver(deps, aRequest(['i-2', 'i-3']));

    await deps.ledger.finishGroupActivity(GROUP, 'asa-1');
    const sent = await dispatchGroup(deps, GROUP);

    expect(sent).toMatchObject({ kind: 'sent', instanceIds: 3 });
    expect(provider.submitCalls).toHaveLength(2);
  });

  it('does not merge requests whose options differ', async () => {
    const { deps, provider } = setup();
    await deliver(deps, aRequest(['i-0']));
    await deliver(deps, aRequest(['i-1'], { decreaseDesiredCapacity: false }));
    await deliver(deps, aRequest(['i-2']));

    await deps.ledger.finishGroupActivity(GROUP, 'asa-1');
    const sent = await dispatchGroup(deps, GROUP);

    expect(sent).toMatchObject({ kind: 'sent', instanceIds: 1 });
    expect(provider.submitCalls).toHaveLength(2);
  });

  it('after an ambiguous failure repeats the same call with the same token, after the backoff', async () => {
    const { deps, provider, clock } = setup();
    provider.submitAnswers = [new DetachError('InternalError', 'oops', 'transient')];
    const request = aRequest(['i-1']);
    await deliver(deps, request);

    const tooSoon = await dispatchGroup(deps, GROUP);
    clock.advance(120_000);
    const retried = await dispatchGroup(deps, GROUP);

    expect(tooSoon).toEqual({ kind: 'not-now' });
    expect(retried).toMatchObject({ kind: 'sent' });
    expect(provider.submitCalls.map((c) => c.clientToken)).toEqual([request.requestId, request.requestId]);
  });

  it('after a definitive refusal (busy) tries again with a new token', async () => {
    const { deps, provider, clock } = setup();
    provider.submitAnswers = [new DetachError('ScalingActivityInProgress', 'busy', 'busy')];
    const request = aRequest(['i-1']);
    await deliver(deps, request);

    clock.advance(120_000);
    await dispatchGroup(deps, GROUP);

    const [first, second] = provider.submitCalls.map((c) => c.clientToken);
    expect(first).toBe(request.requestId);
    expect(second).toMatch(/~1$/);
  });

  it('a fatal answer to a merged call is tried for each request alone before it fails', async () => {
    const { deps, provider, clock } = setup();
    await deliver(deps, aRequest(['i-0']));
    const good = aRequest(['i-1']);
    const bad = aRequest(['i-2']);
    await deliver(deps, good);
    await deliver(deps, bad);
    provider.submitAnswers = [
      new DetachError('InvalidInstanceId.NotFound', 'Instance "i-2" does not exist.', 'fatal'),
      { activityId: 'asa-good' },
    ];
    await deps.ledger.finishGroupActivity(GROUP, 'asa-1');

    await dispatchGroup(deps, GROUP);
    clock.advance(1);
    await dispatchGroup(deps, GROUP);
    await deps.ledger.finishGroupActivity(GROUP, 'asa-good');
    provider.submitAnswers = [
      new DetachError('InvalidInstanceId.NotFound', 'Instance "i-2" does not exist.', 'fatal'),
    ];
    await dispatchGroup(deps, GROUP);

    expect(deps.ledger.records.get(good.requestId)).toMatchObject({
      status: 'IN_PROGRESS',
      activityId: 'asa-good',
    });
    expect(deps.ledger.records.get(bad.requestId)).toMatchObject({ status: 'FAILED' });
    expect(deps.publisher.events.map((e) => [e.requestId, e.error?.code])).toEqual([
      [bad.requestId, 'InvalidInstanceId.NotFound'],
    ]);
  });

  it('gives up after MAX_ATTEMPTS with RetriesExhausted', async () => {
    const { deps, provider, clock } = setup();
    provider.submitAnswers = [1, 2, 3].map(() => new DetachError('Throttling', 'slow', 'throttled'));
    const request = aRequest(['i-1']);
    await deliver(deps, request);

    for (let i = 0; i < 3; i++) {
      clock.advance(120_000);
      await dispatchGroup(deps, GROUP);
    }

    expect(provider.submitCalls).toHaveLength(3);
    expect(deps.publisher.events[0]).toMatchObject({
      requestId: request.requestId,
      status: 'Failed',
      error: { code: 'RetriesExhausted' },
    });
  });

  describe('preflight', () => {
    const snapshot = (present: string[], overrides = {}) => ({
      exists: true,
      active: true,
      state: 'Active',
      minSize: 0,
      capacity: present.length,
      checkMinSize: true,
      present: present.map((instanceId) => ({ instanceId, state: 'InService', acceptable: true })),
      ...overrides,
    });

    it('sends only the instances still in the group, and a retry sends that same plan without reading again', async () => {
      const { deps, provider, clock } = setup();
      provider.snapshot = snapshot(['i-1']);
      provider.submitAnswers = [new DetachError('InternalError', 'oops', 'transient')];
      const request = aRequest(['i-1', 'i-2'], { preflight: true });

      await deliver(deps, request);
      provider.snapshot = snapshot([]);
      clock.advance(120_000);
      await dispatchGroup(deps, GROUP);

      expect(provider.inspectCalls).toHaveLength(1);
      expect(deps.ledger.records.get(request.requestId)?.plan).toMatchObject({
        send: ['i-1'],
        alreadyDetached: ['i-2'],
      });
      expect(provider.submitCalls).toHaveLength(2);
    });

    it('ends without a call when every instance is already out', async () => {
      const { deps, provider } = setup();
      provider.snapshot = snapshot([]);

      await deliver(deps, aRequest(['i-1'], { preflight: true }));

      expect(provider.submitCalls).toEqual([]);
      expect(deps.publisher.events[0]).toMatchObject({
        status: 'Succeeded',
        cloud: { statusCode: 'AlreadyDetached' },
      });
    });

    it('judges each merged request with the capacity the ones before it leave (MinSize)', async () => {
      const { deps, provider } = setup();
      await deliver(deps, aRequest(['i-0']));
      provider.snapshot = snapshot(['i-1', 'i-2', 'i-3'], { minSize: 2 });
      const first = aRequest(['i-1'], { preflight: true });
      const second = aRequest(['i-2'], { preflight: true });
      await deliver(deps, first);
      await deliver(deps, second);

      await deps.ledger.finishGroupActivity(GROUP, 'asa-1');
      await dispatchGroup(deps, GROUP);

      expect(deps.ledger.records.get(first.requestId)?.status).toBe('IN_PROGRESS');
      expect(deps.publisher.events).toMatchObject([
        { requestId: second.requestId, error: { code: 'Preflight.BelowMinSize' } },
      ]);
    });

    it('waits, without a call, while the cloud shows an activity we did not start', async () => {
      const { deps, provider, clock } = setup();
      provider.snapshot = snapshot(['i-1'], { activityInProgress: true });

      const first = await deliver(deps, aRequest(['i-1'], { preflight: true }));
      provider.snapshot = snapshot(['i-1']);
      clock.advance(120_000);
      const later = await dispatchGroup(deps, GROUP);

      expect(first).toMatchObject({ kind: 'queued', dispatch: 'cloud-busy' });
      expect(later).toMatchObject({ kind: 'sent' });
      expect(provider.submitCalls).toHaveLength(1);
    });

    it('a dry run publishes the plan and calls nothing, even when the plan would be refused', async () => {
      const { deps, provider } = setup();
      provider.snapshot = snapshot(['i-1', 'i-2'], { minSize: 1 });

      await deliver(deps, aRequest(['i-1', 'i-2'], { dryRun: true }));

      expect(deps.publisher.events[0]).toMatchObject({
        status: 'DryRun',
        error: { code: 'Preflight.BelowMinSize' },
      });
      expect(provider.submitCalls).toEqual([]);
    });
  });
});
