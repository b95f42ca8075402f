import { describe, expect, it } from 'vitest';
import { inMemoryDeps } from '../../test/support/in-memory.ts';
import { DetachError } from '../errors.ts';
import { type Delivery, RetryLater, submitRequest } from './submit.ts';

const submitDetachInstances = (deps: Parameters<typeof submitRequest>[0], delivery: Delivery) =>
  submitRequest(deps, 'detach-instances', delivery);

const setup = inMemoryDeps;

const aRequest = (overrides: Record<string, unknown> = {}) => ({
  requestId: 'req-1',
  provider: 'aliyun',
  region: 'cn-hangzhou',
  scalingGroupId: 'asg-1',
  instanceIds: ['i-1', 'i-2'],
  ...overrides,
});
const delivery = (body: unknown, receiveCount = 1) => ({ body, messageId: 'm-1', receiveCount });

const aVServerRequest = (overrides: Record<string, unknown> = {}) => ({
  requestId: 'req-v',
  provider: 'aliyun',
  region: 'cn-hangzhou',
  scalingGroupId: 'asg-1',
  vServerGroups: [
    { loadBalancerId: 'lb-1', vServerGroupAttributes: [{ vServerGroupId: 'rsp-1', port: 80 }] },
  ],
  ...overrides,
});
const submitVServer = (deps: Parameters<typeof submitRequest>[0], d: Delivery) =>
  submitRequest(deps, 'detach-vserver-groups', d);

describe('submitRequest', () => {
  it('an instance request is recorded in its group and sent at once when the group is free', async () => {
    const { deps, provider } = setup();

    const outcome = await submitDetachInstances(deps, delivery(aRequest({ preflight: false })));

    expect(outcome).toEqual({ kind: 'queued', requestId: 'req-1', dispatch: 'sent' });
    expect(provider.submitCalls).toEqual([
      { action: 'detach-instances', requestId: 'req-1', clientToken: 'req-1' },
    ]);
    expect(deps.ledger.records.get('req-1')).toMatchObject({ status: 'IN_PROGRESS', activityId: 'asa-1' });
    expect(deps.publisher.events).toEqual([]);
  });

  it('does not call the cloud again for a duplicate delivery', async () => {
    const { deps, provider } = setup();
    await submitDetachInstances(deps, delivery(aRequest({ preflight: false })));

    const outcome = await submitDetachInstances(deps, delivery(aRequest({ preflight: false }), 2));

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

  describe('actions that go straight to the cloud (server groups)', () => {
    it('retries a retryable error through SQS with the same client token, then succeeds', async () => {
      const { deps, provider } = setup();
      provider.submitAnswers = [
        new DetachError('ServiceUnavailable', 'down', 'transient', { httpStatus: 503 }),
        {},
      ];

      await expect(submitVServer(deps, delivery(aVServerRequest(), 1))).rejects.toBeInstanceOf(RetryLater);
      const outcome = await submitVServer(deps, delivery(aVServerRequest(), 2));

      expect(outcome.kind).toBe('submitted');
      expect(provider.submitCalls.map((call) => call.clientToken)).toEqual(['req-v', 'req-v']);
      expect(deps.ledger.records.get('req-v')).toMatchObject({
        status: 'SUBMITTED',
        attempts: 2,
        lastError: { code: 'ServiceUnavailable' },
      });
    });

    it('ends a fatal error in one Failed event with the cloud code and message', async () => {
      const { deps, provider } = setup();
      provider.submitAnswers = [new DetachError('Forbidden.Unauthorized', 'no', 'fatal')];

      const outcome = await submitVServer(deps, delivery(aVServerRequest()));

      expect(outcome).toMatchObject({ kind: 'failed', error: { code: 'Forbidden.Unauthorized' } });
      expect(deps.publisher.events).toHaveLength(1);
      expect(deps.publisher.events[0]).toMatchObject({
        status: 'Failed',
        error: { code: 'Forbidden.Unauthorized', message: 'no' },
      });
    });

    it('gives up on the last allowed delivery with RetriesExhausted instead of leaving it to the DLQ', async () => {
      const { deps, provider } = setup();
      provider.submitAnswers = [new DetachError('Throttling', 'slow', 'throttled')];

      const outcome = await submitVServer(deps, delivery(aVServerRequest(), 3));

      expect(outcome).toMatchObject({
        kind: 'failed',
        error: { code: 'RetriesExhausted', kind: 'throttled' },
      });
      expect(deps.publisher.events[0]?.error?.message).toContain('Throttling');
    });

    it('publishes on redelivery an event that a crash left unpublished', async () => {
      const { deps, provider } = setup();
      provider.submitAnswers = [new DetachError('InvalidParameter', 'bad', 'fatal')];
      deps.publisher.failNext = 1;
      await expect(submitVServer(deps, delivery(aVServerRequest()))).rejects.toThrow('bus unavailable');

      const outcome = await submitVServer(deps, delivery(aVServerRequest(), 2));

      expect(outcome).toMatchObject({ kind: 'duplicate', status: 'FAILED' });
      expect(deps.publisher.events).toHaveLength(1);
      expect(deps.ledger.records.get('req-v')?.eventPublishedAt).toBeDefined();
    });
  });

  it('a dry run of a legacy v2 Tencent request says there is no plan to read, and calls nothing', async () => {
    const { deps, provider } = setup();
    const body = {
      requestId: 'req-t',
      provider: 'tencent',
      region: 'ap-guangzhou',
      scalingGroupId: 'asg-abc',
      instanceIds: ['ins-1'],
      apiVersion: 'v2',
      dryRun: true,
    };

    const outcome = await submitDetachInstances(deps, delivery(body));

    expect(outcome).toEqual({ kind: 'completed', requestId: 'req-t', status: 'DryRun' });
    expect(deps.publisher.events[0]).toMatchObject({
      status: 'DryRun',
      cloud: { statusCode: 'NoPreflight' },
    });
    expect(provider.submitCalls).toEqual([]);
  });
});
