import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Action, DetachRequest } from '../shared/contracts/index.ts';
import { groupKeyOf } from '../shared/detach/dispatch.ts';
import { acceptRequest } from '../shared/detach/intake.ts';
import { pollActivities } from '../shared/detach/poll.ts';
import { submitRequest } from '../shared/detach/submit.ts';
import { aDetachRequest, aScalingGroup, uniqueId } from '../support/emulator-admin.ts';
import { aTencentGroup, aTencentRequest } from '../support/tencent.ts';
import { CRASH_POINTS, type CrashPoint } from './support/crash-points.ts';
import {
  CRASH_AFTER,
  type CrashAfter,
  CrashableProcess,
  runUntilCrash,
} from './support/crashable-process.ts';
import { aDomain } from './support/domain.ts';

/**
 * A model test: fast-check draws interleavings of deliveries (queue and webhook, duplicates), poller passes,
 * crashes at any named point (the whole process of the step dies: test/support/crashable-process.ts), cloud faults (throttling, 5xx, connections dropped before and after the cloud
 * acted) and time moving on; the real code runs them against DynamoDB Local and the emulator, then recovers
 * (every message comes back once more, the poller passes). The invariants must hold whatever was drawn.
 */
type Command =
  | { kind: 'deliver'; request: number; via: 'queue' | 'webhook' }
  | { kind: 'poll' }
  | { kind: 'crash'; point: CrashPoint }
  | { kind: 'fault'; fault: 'throttle' | 'server-error' | 'drop-before' | 'drop-after' }
  | { kind: 'advance'; ms: number };

const REQUESTS = 3;
const command: fc.Arbitrary<Command> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.record({
      kind: fc.constant('deliver' as const),
      request: fc.nat(REQUESTS - 1),
      via: fc.constantFrom('queue' as const, 'webhook' as const),
    }),
  },
  { weight: 3, arbitrary: fc.constant({ kind: 'poll' as const }) },
  {
    weight: 2,
    arbitrary: fc.record({ kind: fc.constant('crash' as const), point: fc.constantFrom(...CRASH_POINTS) }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('fault' as const),
      fault: fc.constantFrom(
        'throttle' as const,
        'server-error' as const,
        'drop-before' as const,
        'drop-after' as const,
      ),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('advance' as const),
      ms: fc.integer({ min: 500, max: 10_000 }),
    }),
  },
);

const FAULTS = {
  aliyun: {
    throttle: { error: { code: 'Throttling.User', httpStatus: 400 } },
    'server-error': { error: { code: 'InternalError', httpStatus: 500 } },
    'drop-before': { drop: 'before' as const },
    'drop-after': { drop: 'after' as const },
  },
  tencent: {
    throttle: { error: { code: 'RequestLimitExceeded', httpStatus: 200 } },
    'server-error': { error: { code: 'InternalError', httpStatus: 500 } },
    'drop-before': { drop: 'before' as const },
    'drop-after': { drop: 'after' as const },
  },
};

async function runScenario(provider: 'aliyun' | 'tencent', commands: Command[]): Promise<void> {
  const domain = await aDomain({ settleMs: 3000 });
  const group =
    provider === 'aliyun'
      ? await aScalingGroup(domain.admin, { instances: REQUESTS + 1, activityDurationMs: 60 })
      : await aTencentGroup(domain.admin, { instances: REQUESTS + 1, activityDurationMs: 60 });
  const requests = group.instanceIds
    .slice(0, REQUESTS)
    .map(
      (id) =>
        (provider === 'aliyun'
          ? aDetachRequest(group, { instanceIds: [id] })
          : aTencentRequest(group, { instanceIds: [id] })) as DetachRequest,
    );
  const action: Action = 'detach-instances';
  const queue = { enqueue: async () => {} };
  // Each step is a process of its own; an armed crash kills the next one (all its ports) right after the point.
  let armed: CrashAfter | undefined;
  const run = async (work: (ports: typeof domain.deps & { queue: typeof queue }) => Promise<unknown>) => {
    const process = new CrashableProcess('step', armed ? { crashAfter: armed } : {});
    armed = undefined;
    const ports = process.ports({ ...domain.deps, queue });
    await runUntilCrash(process.died, () => work(ports));
  };

  for (const step of commands) {
    if (step.kind === 'crash') armed = CRASH_AFTER[step.point];
    else if (step.kind === 'advance') domain.advance(step.ms);
    else if (step.kind === 'fault')
      await domain.admin.inject({
        action: provider === 'aliyun' ? 'DetachInstances' : 'DetachInstances',
        scalingGroupId: group.scalingGroupId,
        ...FAULTS[provider][step.fault],
      });
    else if (step.kind === 'poll') await run((ports) => pollActivities(ports));
    else {
      const request = requests[step.request] as DetachRequest;
      await run((ports) =>
        step.via === 'webhook'
          ? acceptRequest(ports, action, request, uniqueId('src'))
          : submitRequest(ports, action, { body: request, messageId: uniqueId('m'), receiveCount: 1 }),
      );
    }
  }
  // Recovery: whatever was not acknowledged comes back; each request is delivered once more, then the poller runs.
  for (const request of requests)
    await submitRequest(domain.deps, action, { body: request, messageId: uniqueId('m'), receiveCount: 2 });
  const records = await domain.settle(
    requests.map((r) => r.requestId),
    60,
  );

  expect(records.map((r) => [r.status, r.event?.error?.code, r.event?.error?.message])).toEqual(
    requests.map(() => ['SUCCEEDED', undefined, undefined]),
  );
  for (const record of records)
    expect([...domain.publisher.eventIdsOf(record.requestId)]).toEqual([record.event?.eventId]);
  const state = (await domain.admin.state()) as unknown as {
    aliyun: { activities: { scalingGroupId: string; instanceIds: string[] }[] };
    tencent: { activities: { groupId: string; instanceIds: string[] }[] };
  };
  const acted = [
    ...state.aliyun.activities.filter((a) => a.scalingGroupId === group.scalingGroupId),
    ...state.tencent.activities.filter((a) => a.groupId === group.scalingGroupId),
  ].flatMap((a) => a.instanceIds);
  expect(acted.sort()).toEqual(requests.flatMap((r) => (r as { instanceIds: string[] }).instanceIds).sort());
  expect(await domain.groupItem(groupKeyOf(requests[0] as DetachRequest))).toMatchObject({
    intent: undefined,
    activityId: undefined,
  });
}

describe('model: random interleavings, crashes and cloud faults', () => {
  it.concurrent.each(['aliyun', 'tencent'] as const)(
    '%s: the invariants hold',
    async (provider) => {
      await fc.assert(
        fc.asyncProperty(fc.array(command, { minLength: 4, maxLength: 14 }), (commands) =>
          runScenario(provider, commands),
        ),
        {
          numRuns: 8,
          endOnFailure: true,
          ...(process.env.MODEL_SEED && {
            seed: Number(process.env.MODEL_SEED),
            ...(process.env.MODEL_PATH && { path: process.env.MODEL_PATH }),
          }),
        },
      );
    },
    240_000,
  );
});
