import { describe, expect, it } from 'vitest';
import type { Action } from '../shared/contracts/index.ts';
import {
  aDetachRequest,
  aScalingGroup,
  type GroupOptions,
  startOutsideActivity,
  uniqueId,
} from '../support/emulator-admin.ts';
import { stackClients } from './support/stack-clients.ts';

/**
 * Every (action, error code) pair the four ESS seeds list, produced by the emulator and sent through our
 * function: fatal codes end in one Failed event with the cloud's code, busy ones are retried (by the group dispatcher).
 * Where our own contract refuses the input that would cause a code (a port out of range, a missing vServer
 * group), the emulator is told to answer with it (an injected fault), since the request never gets that far.
 */
const { send, waitForRecord, delivered, admin, stack } = stackClients();

type Group = Awaited<ReturnType<typeof aScalingGroup>>;
type Case = {
  action: Action;
  cloudAction: string;
  code: string;
  group?: GroupOptions;
  request?: (group: Group) => Record<string, unknown>;
  inject?: { httpStatus: number };
};

const VSERVER: GroupOptions = {
  vServerGroups: [{ loadBalancerId: 'lb-1', vServerGroupId: 'rsp-1', port: 80 }],
};
const vServerRequest = (group: Group) =>
  aDetachRequest(group, {
    instanceIds: undefined,
    vServerGroups: [
      { loadBalancerId: 'lb-1', vServerGroupAttributes: [{ vServerGroupId: 'rsp-1', port: 80 }] },
    ],
  });
const albRequest = (group: Group) =>
  aDetachRequest(group, {
    instanceIds: undefined,
    albServerGroups: [{ albServerGroupId: 'sgp-never-attached', port: 80 }],
  });
const missingGroup = (group: Group) => ({ ...group, scalingGroupId: uniqueId('asg-missing') });

const noPreflight = (testCase: Case) =>
  testCase.action === 'detach-instances' || testCase.action === 'remove-instances'
    ? { preflight: false }
    : {};

const instanceCases = (action: Action, cloudAction: string): Case[] => [
  { action, cloudAction, code: 'IncorrectScalingGroupStatus', group: { lifecycleState: 'Inactive' } },
  { action, cloudAction, code: 'IncorrectCapacity.MinSize', group: { minSize: 3 } },
  { action, cloudAction, code: 'Forbidden.Unauthorized', group: { unauthorizedActions: [cloudAction] } },
  {
    action,
    cloudAction,
    code: 'InvalidScalingGroupId.NotFound',
    request: (g) => aDetachRequest(missingGroup(g)),
  },
  {
    action,
    cloudAction,
    code: 'InvalidInstanceId.NotFound',
    request: (g) => aDetachRequest(g, { instanceIds: ['i-missing'] }),
  },
];

const FATAL: Case[] = [
  ...instanceCases('detach-instances', 'DetachInstances'),
  ...instanceCases('remove-instances', 'RemoveInstances'),
  {
    action: 'remove-instances',
    cloudAction: 'RemoveInstances',
    code: 'InvalidParameter',
    group: { scalingPolicy: 'release' },
    request: (g) => aDetachRequest(g, { removePolicy: 'recycle' }),
  },
  {
    action: 'detach-vserver-groups',
    cloudAction: 'DetachVServerGroups',
    code: 'Forbidden.Unauthorized',
    group: { ...VSERVER, unauthorizedActions: ['DetachVServerGroups'] },
    request: vServerRequest,
  },
  {
    action: 'detach-vserver-groups',
    cloudAction: 'DetachVServerGroups',
    code: 'InvalidScalingGroupId.NotFound',
    group: VSERVER,
    request: (g) => vServerRequest(missingGroup(g)),
  },
  {
    action: 'detach-vserver-groups',
    cloudAction: 'DetachVServerGroups',
    code: 'InvalidParameter',
    group: VSERVER,
    request: vServerRequest,
    inject: { httpStatus: 400 },
  },
  {
    action: 'detach-vserver-groups',
    cloudAction: 'DetachVServerGroups',
    code: 'MissingParameter',
    group: VSERVER,
    request: vServerRequest,
    inject: { httpStatus: 400 },
  },
  {
    action: 'detach-alb-server-groups',
    cloudAction: 'DetachAlbServerGroups',
    code: 'AlbServerGroup.NotAttached',
    request: albRequest,
  },
];

const BUSY: Case[] = (['detach-instances', 'remove-instances'] as const).flatMap((action) => {
  const cloudAction = action === 'detach-instances' ? 'DetachInstances' : 'RemoveInstances';
  return [
    {
      action,
      cloudAction,
      code: 'IncorrectLoadBalancerStatus',
      group: { loadBalancers: [{ id: 'lb-1', status: 'Inactive' }] },
    },
    {
      action,
      cloudAction,
      code: 'IncorrectDBInstanceStatus',
      group: { dbInstances: [{ id: 'rm-1', status: 'Stopped' }] },
    },
  ];
});

async function sendCase(testCase: Case) {
  const group = await aScalingGroup(admin, testCase.group);
  if (testCase.inject) {
    await admin.inject({
      action: testCase.cloudAction,
      scalingGroupId: group.scalingGroupId,
      error: { code: testCase.code, httpStatus: testCase.inject.httpStatus },
    });
  }
  // These cases check what the cloud answers, so the preflight (which refuses most of them first) is off.
  const request = JSON.parse(
    JSON.stringify({ ...(testCase.request?.(group) ?? aDetachRequest(group)), ...noPreflight(testCase) }),
  );
  await send(testCase.action, request);
  return {
    group,
    request,
    calls: () => admin.calls({ action: testCase.cloudAction, scalingGroupId: request.scalingGroupId }),
  };
}

describe("the seeds' error codes through our functions", () => {
  it('covers all 22 ESS pairs', () => {
    const pairs = new Set([...FATAL, ...BUSY].map((c) => `${c.cloudAction}:${c.code}`));
    pairs.add('DetachInstances:ScalingActivityInProgress').add('RemoveInstances:ScalingActivityInProgress');

    expect(pairs.size).toBe(22);
  });

  it.concurrent.each(FATAL.map((c) => [`${c.cloudAction} ${c.code}`, c] as const))(
    '%s ends in one Failed event with the code, without retry',
    async (_name, testCase) => {
      const { request, calls } = await sendCase(testCase);

      const record = await waitForRecord(request.requestId, delivered);

      expect(record.status).toBe('FAILED');
      expect(record.event?.error).toMatchObject({ code: testCase.code, kind: 'fatal' });
      expect(record.deliveredEvents).toBe(1);
      expect(await calls()).toHaveLength(1);
    },
  );

  it.concurrent.each(BUSY.map((c) => [`${c.cloudAction} ${c.code}`, c] as const))(
    '%s waits (busy, never counted as an attempt) until the operation timeout, then ends TimedOut, not in the DLQ',
    async (_name, testCase) => {
      const { request, calls } = await sendCase(testCase);

      const record = await waitForRecord(request.requestId, delivered, 45_000);

      expect(record.status).toBe('TIMED_OUT');
      expect(record.attempts).toBe(0);
      expect(record.event?.error?.code).toBe('TimedOut');
      expect(record.event?.error?.message).toContain(testCase.code);
      // More answers than MAX_CALL_ATTEMPTS (4 here): busy never used one up.
      expect((await calls()).length).toBeGreaterThan(4);
    },
  );

  it.concurrent.each([
    ['detach-instances', 'DetachInstances'],
    ['remove-instances', 'RemoveInstances'],
  ] as const)(
    '%s: ScalingActivityInProgress waits for the running activity, then goes, with a new token',
    async (action, cloudAction) => {
      const group = await aScalingGroup(admin, { activityDurationMs: 1500 });
      await startOutsideActivity(stack.endpoints.emulator, group);
      // The cloud's own answer is what this checks: without the preflight, which would wait for the activity first.
      const request = aDetachRequest(group, { preflight: false });

      await send(action, request);
      const busy = await waitForRecord(
        request.requestId,
        (r) => r.lastError?.code === 'ScalingActivityInProgress',
      );
      const done = await waitForRecord(request.requestId, delivered, 30_000);

      const calls = await admin.calls({ action: cloudAction, scalingGroupId: group.scalingGroupId });
      // The first call is the one that started the blocking activity, made without a token.
      const tokens = calls.map((c) => c.params.ClientToken).filter((token) => token !== undefined);
      expect(busy.status).toBe('QUEUED');
      expect(done.status).toBe('SUCCEEDED');
      expect(tokens[0]).toBe(request.requestId);
      // A definitive refusal changes the token, so a cloud that remembered the refusal cannot repeat it.
      expect(tokens.at(-1)).toMatch(/~i$/);
      // Busy waits never count as attempts: only the call the cloud took counts.
      expect(done.attempts).toBe(1);
    },
  );
});
