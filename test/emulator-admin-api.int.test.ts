/**
 * The emulator's admin API is not a door: every route but health wants the admin token, every body must be of
 * the route's own shape, and a callback aimed at /admin/seed (callbacks may go to loopback locally) leaves the
 * emulated clouds as they were.
 */
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EmulatorSeed } from '../emulator/seed.ts';
import { ADMIN_TOKEN_HEADER, type CloudEmulator, startEmulator } from '../emulator/server.ts';
import { aDetachRequest, aScalingGroup, EmulatorAdmin } from '../support/emulator-admin.ts';
import { stackClients } from './support/stack-clients.ts';

const TOKEN = 'a-token-of-this-test';
const seed = {
  credentials: [{ accessKeyId: 'LTAI-admin-test', accessKeySecret: 'admin-test-secret' }],
  activityDurationMs: 100,
  aliyun: {
    scalingGroups: [{ scalingGroupId: 'asg-kept', regionId: 'cn-hangzhou', minSize: 0, maxSize: 2 }],
    instances: [{ instanceId: 'i-kept', scalingGroupId: 'asg-kept' }],
  },
};
let emulator: CloudEmulator;
let owner: EmulatorAdmin;

beforeAll(async () => {
  emulator = await startEmulator({
    port: 0,
    host: '127.0.0.1',
    seed: EmulatorSeed.parse(seed),
    adminToken: TOKEN,
  });
  owner = new EmulatorAdmin(emulator.url, TOKEN);
});
afterAll(async () => {
  await emulator.close();
});

async function call(
  method: 'GET' | 'POST' | 'DELETE',
  path: string,
  options: { token?: string; body?: string } = {},
) {
  const response = await request(`${emulator.url}${path}`, {
    method,
    headers: {
      'content-type': 'application/json',
      ...(options.token !== undefined && { [ADMIN_TOKEN_HEADER]: options.token }),
    },
    ...(options.body !== undefined && { body: options.body }),
  });
  return { status: response.statusCode, body: (await response.body.json()) as Record<string, unknown> };
}

const keptGroups = async () => (await owner.state()).aliyun.scalingGroups.map((g) => g.scalingGroupId);

describe('the admin token', () => {
  it.each([
    ['GET', '/admin/state'],
    ['GET', '/admin/calls'],
    ['GET', '/admin/chaos'],
    ['DELETE', '/admin/faults'],
    ['DELETE', '/admin/chaos'],
    ['POST', '/admin/seed'],
    ['POST', '/admin/seed/add'],
    ['POST', '/admin/faults'],
    ['POST', '/admin/chaos'],
  ] as const)('%s %s without it is 401, with another one 403', async (method, path) => {
    const body = method === 'POST' ? JSON.stringify({}) : undefined;

    const without = await call(method, path, { ...(body && { body }) });
    const wrong = await call(method, path, { token: 'not-the-token', ...(body && { body }) });

    expect(without.status).toBe(401);
    expect(without.body.error).toContain(ADMIN_TOKEN_HEADER);
    expect(wrong.status).toBe(403);
    expect(await keptGroups()).toEqual(['asg-kept']);
  });

  it('health needs none (a liveness probe), and the token opens the rest', async () => {
    expect((await call('GET', '/admin/health')).status).toBe(200);
    expect((await call('GET', '/admin/state', { token: TOKEN })).status).toBe(200);
  });
});

describe('bodies of the route’s own shape only', () => {
  it.each([
    [
      'POST',
      '/admin/seed',
      { aliyun: { scalingGroup: [] } },
      /aliyun\.scalingGroup: unknown key \(did you mean "scalingGroups"\?\)/,
    ],
    ['POST', '/admin/seed', { callbackUrl: 'http://x', event: {} }, /unknown key/],
    ['POST', '/admin/seed', 'not json at all', /invalid seed/],
    [
      'POST',
      '/admin/seed/add',
      { aliyun: { instances: [{ instanceId: 'i-x', scalingGroupId: 'asg-nowhere' }] } },
      /names group "asg-nowhere", which neither the seed nor the emulator has/,
    ],
    [
      'POST',
      '/admin/faults',
      [{ action: 'DetachInstances', error: { code: 'X', httpStatus: 500 }, colour: 'red' }],
      /invalid faults/,
    ],
    ['POST', '/admin/faults', { action: 'DetachInstances' }, /invalid faults/],
    ['POST', '/admin/chaos', { rates: { throttle: 0.1 }, sneaky: true }, /invalid chaos/],
    ['GET', '/admin/state', { please: 'reseed' }, /takes no body/],
    ['DELETE', '/admin/faults', [], /takes no body/],
  ] as const)('%s %s refuses %j with 400', async (method, path, body, said) => {
    const answer = await call(method, path, {
      token: TOKEN,
      body: typeof body === 'string' ? body : JSON.stringify(body),
    });

    expect(answer.status).toBe(400);
    expect(String(answer.body.error)).toMatch(said);
    expect(await keptGroups()).toEqual(['asg-kept']);
  });

  it('a seed of its shape, with the token, replaces the world', async () => {
    const replaced = await call('POST', '/admin/seed', {
      token: TOKEN,
      body: JSON.stringify({
        ...seed,
        aliyun: {
          ...seed.aliyun,
          scalingGroups: [{ ...seed.aliyun.scalingGroups[0], scalingGroupName: 'renamed' }],
        },
      }),
    });

    expect(replaced.status).toBe(200);
    expect((await owner.state()).aliyun.scalingGroups).toEqual([
      expect.objectContaining({ scalingGroupId: 'asg-kept', scalingGroupName: 'renamed' }),
    ]);
  });
});

describe('a callback whose URL is the emulator’s /admin/seed', () => {
  const { stack, admin, send, waitForRecord } = stackClients();

  it('is refused (the sender sets no admin token) and the emulated clouds stay as they were', async () => {
    const group = await aScalingGroup(admin, { activityDurationMs: 200 });
    const request = aDetachRequest(group, { callbackUrl: `${stack.endpoints.emulator}/admin/seed` });

    await send('detach-instances', request);
    const record = await waitForRecord(request.requestId, (r) => r.callback?.lastError !== undefined, 30_000);
    const state = await admin.state();
    const calls = await admin.calls({ scalingGroupId: group.scalingGroupId });

    expect(record.callback).toMatchObject({ lastError: 'CallbackHttpStatus' });
    expect(state.aliyun.scalingGroups.map((g) => g.scalingGroupId)).toEqual(
      expect.arrayContaining([group.scalingGroupId, 'asg-demo0001']),
    );
    expect(state.aliyun.activities.filter((a) => a.scalingGroupId === group.scalingGroupId)).toHaveLength(1);
    // A reseed would have emptied the call log too.
    expect(calls.map((c) => c.action)).toContain('DetachInstances');
  });
});
