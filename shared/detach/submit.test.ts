import { describe, expect, it } from 'vitest';
import {
  fixedClock,
  InMemoryLedger,
  RecordingPublisher,
  ScriptedProvider,
} from '../../test/support/in-memory.ts';
import { DetachError } from '../errors.ts';
import { type Delivery, RetryLater, submitRequest } from './submit.ts';

const submitDetachInstances = (deps: Parameters<typeof submitRequest>[0], delivery: Delivery) =>
  submitRequest(deps, 'detach-instances', delivery);

function setup() {
  const provider = new ScriptedProvider();
  const deps = {
    ledger: new InMemoryLedger(),
    publisher: new RecordingPublisher(),
    providers: { aliyun: provider, tencent: provider },
    clock: fixedClock(),
    maxAttempts: 3,
    retry: { baseSeconds: 2, maxSeconds: 60 },
  };
  return { deps, provider };
}

const aRequest = (overrides: Record<string, unknown> = {}) => ({
  requestId: 'req-1',
  provider: 'aliyun',
  region: 'cn-hangzhou',
  scalingGroupId: 'asg-1',
  instanceIds: ['i-1', 'i-2'],
  ...overrides,
});
const delivery = (body: unknown, receiveCount = 1) => ({ body, messageId: 'm-1', receiveCount });

describe('submitDetachInstances', () => {
  it('submits a valid request once and records its activity', async () => {
    const { deps, provider } = setup();

    const outcome = await submitDetachInstances(deps, delivery(aRequest()));

    expect(outcome).toEqual({ kind: 'submitted', requestId: 'req-1', activityId: 'asa-1' });
    expect(provider.submitCalls).toEqual([
      { action: 'detach-instances', requestId: 'req-1', clientToken: 'req-1' },
    ]);
    expect(deps.ledger.records.get('req-1')).toMatchObject({ status: 'IN_PROGRESS', activityId: 'asa-1' });
    expect(deps.publisher.events).toEqual([]);
  });

  it('does not call the cloud again for a duplicate delivery', async () => {
    const { deps, provider } = setup();
    await submitDetachInstances(deps, delivery(aRequest()));

    const outcome = await submitDetachInstances(deps, delivery(aRequest(), 2));

    expect(outcome).toMatchObject({ kind: 'duplicate', status: 'IN_PROGRESS' });
    expect(provider.submitCalls).toHaveLength(1);
  });

  it('rejects invalid input with the field paths, once, without a cloud call', async () => {
    const { deps, provider } = setup();

    const outcome = await submitDetachInstances(
      deps,
      delivery(aRequest({ instanceIds: [], region: 'Hangzhou' })),
    );

    expect(outcome.kind).toBe('rejected');
    expect(provider.submitCalls).toEqual([]);
    const [event] = deps.publisher.events;
    expect(event).toMatchObject({
      requestId: 'req-1',
      status: 'Rejected',
      error: { code: 'InvalidRequest' },
    });
    expect(event?.error?.issues?.map((issue) => issue.path).sort()).toEqual(['instanceIds', 'region']);
    expect(deps.ledger.records.get('req-1')?.status).toBe('REJECTED');
  });

  it('rejects more than 20 instance ids and unknown fields', async () => {
    const { deps } = setup();
    const ids = Array.from({ length: 21 }, (_, i) => `i-${i}`);

    await submitDetachInstances(deps, delivery(aRequest({ instanceIds: ids, extra: true })));

    const paths = deps.publisher.events[0]?.error?.issues?.map((issue) => issue.path);
    expect(paths).toContain('instanceIds');
    expect(paths).toContain('(root)');
  });

  it('names a body that is not JSON, keyed by the message id', async () => {
    const { deps } = setup();

    const outcome = await submitDetachInstances(deps, delivery('{not json'));

    expect(outcome).toMatchObject({ kind: 'rejected', requestId: 'sqs:m-1' });
    expect(deps.publisher.events[0]?.error?.issues).toEqual([
      { path: '(root)', message: 'The message body is not valid JSON.' },
    ]);
  });

  it('never lets an invalid message overwrite the record of a valid request with the same id', async () => {
    const { deps } = setup();
    await submitDetachInstances(deps, delivery(aRequest()));

    const outcome = await submitDetachInstances(deps, {
      body: aRequest({ instanceIds: 'x' }),
      messageId: 'm-2',
      receiveCount: 1,
    });

    expect(outcome).toMatchObject({ kind: 'rejected', requestId: 'sqs:m-2' });
    expect(deps.ledger.records.get('req-1')?.status).toBe('IN_PROGRESS');
  });

  it('retries a retryable error with the same client token, then succeeds', async () => {
    const { deps, provider } = setup();
    provider.submitAnswers = [
      new DetachError('ServiceUnavailable', 'down', 'transient', { httpStatus: 503 }),
    ];

    await expect(submitDetachInstances(deps, delivery(aRequest(), 1))).rejects.toBeInstanceOf(RetryLater);
    const outcome = await submitDetachInstances(deps, delivery(aRequest(), 2));

    expect(outcome.kind).toBe('submitted');
    expect(provider.submitCalls.map((call) => call.clientToken)).toEqual(['req-1', 'req-1']);
    expect(deps.ledger.records.get('req-1')).toMatchObject({
      attempts: 2,
      lastError: { code: 'ServiceUnavailable' },
    });
  });

  it('ends a fatal error in one Failed event with the cloud code and message', async () => {
    const { deps } = setup();
    deps.providers.aliyun.submitAnswers = [
      new DetachError('IncorrectCapacity.MinSize', 'below MinSize', 'fatal'),
    ];

    const outcome = await submitDetachInstances(deps, delivery(aRequest()));

    expect(outcome).toMatchObject({ kind: 'failed', error: { code: 'IncorrectCapacity.MinSize' } });
    expect(deps.publisher.events).toHaveLength(1);
    expect(deps.publisher.events[0]).toMatchObject({
      status: 'Failed',
      error: { code: 'IncorrectCapacity.MinSize', message: 'below MinSize' },
    });
  });

  it('gives up on the last allowed delivery with RetriesExhausted instead of leaving it to the DLQ', async () => {
    const { deps } = setup();
    deps.providers.aliyun.submitAnswers = [new DetachError('ScalingActivityInProgress', 'busy', 'busy')];

    const outcome = await submitDetachInstances(deps, delivery(aRequest(), 3));

    expect(outcome).toMatchObject({ kind: 'failed', error: { code: 'RetriesExhausted', kind: 'busy' } });
    expect(deps.publisher.events[0]?.error?.message).toContain('ScalingActivityInProgress');
  });

  it('publishes on redelivery an event that a crash left unpublished', async () => {
    const { deps } = setup();
    deps.providers.aliyun.submitAnswers = [new DetachError('InvalidInstanceId.NotFound', 'gone', 'fatal')];
    deps.publisher.failNext = 1;
    await expect(submitDetachInstances(deps, delivery(aRequest()))).rejects.toThrow('bus unavailable');

    const outcome = await submitDetachInstances(deps, delivery(aRequest(), 2));

    expect(outcome).toMatchObject({ kind: 'duplicate', status: 'FAILED' });
    expect(deps.publisher.events).toHaveLength(1);
    expect(deps.ledger.records.get('req-1')?.eventPublishedAt).toBeDefined();
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

    it('sends only the instances still in the group, and every retry sends that same plan without reading again', async () => {
      const { deps, provider } = setup();
      provider.snapshot = snapshot(['i-1']);
      provider.submitAnswers = [new DetachError('InternalError', 'oops', 'transient')];

      await expect(submitDetachInstances(deps, delivery(aRequest(), 1))).rejects.toBeInstanceOf(RetryLater);
      provider.snapshot = snapshot([]);
      await submitDetachInstances(deps, delivery(aRequest(), 2));

      expect(provider.inspectCalls).toEqual(['req-1']);
      expect(deps.ledger.records.get('req-1')?.plan).toMatchObject({
        send: ['i-1'],
        alreadyDetached: ['i-2'],
      });
      expect(provider.submitCalls).toHaveLength(2);
    });

    it('ends without a call when every instance is already out', async () => {
      const { deps, provider } = setup();
      provider.snapshot = snapshot([]);

      const outcome = await submitDetachInstances(deps, delivery(aRequest()));

      expect(outcome).toEqual({ kind: 'completed', requestId: 'req-1', status: 'Succeeded' });
      expect(provider.submitCalls).toEqual([]);
      expect(deps.publisher.events[0]).toMatchObject({ cloud: { statusCode: 'AlreadyDetached' } });
    });

    it('a dry run publishes the plan and calls nothing, even when the plan would be refused', async () => {
      const { deps, provider } = setup();
      provider.snapshot = snapshot(['i-1', 'i-2'], { minSize: 1 });

      const outcome = await submitDetachInstances(deps, delivery(aRequest({ dryRun: true })));

      expect(outcome).toMatchObject({ kind: 'completed', status: 'DryRun' });
      expect(deps.publisher.events[0]).toMatchObject({
        status: 'DryRun',
        error: { code: 'Preflight.BelowMinSize' },
      });
      expect(provider.submitCalls).toEqual([]);
    });

    it('can be turned off', async () => {
      const { deps, provider } = setup();
      provider.snapshot = snapshot([]);

      await submitDetachInstances(deps, delivery(aRequest({ preflight: false })));

      expect(provider.inspectCalls).toEqual([]);
      expect(provider.submitCalls).toHaveLength(1);
    });
  });
});
