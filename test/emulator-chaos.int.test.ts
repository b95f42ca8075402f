/**
 * Chaos mode changes every answer of the emulator it is set on, so these tests run an emulator of their own
 * (the real server, on a free port) rather than the stack's shared one.
 */
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CloudEmulator, loadSeed, startEmulator } from '../emulator/server.ts';
import { EssClient } from '../shared/providers/aliyun/ess-client.ts';
import { createHttpAgent } from '../shared/providers/http.ts';
import { TencentAsClient } from '../shared/providers/tencent/as-client.ts';
import { TencentV2Client } from '../shared/providers/tencent/v2-client.ts';
import { EMULATOR_KEY, EmulatorAdmin } from '../support/emulator-admin.ts';
import { TENCENT_KEY } from '../support/tencent.ts';
import { failure } from './support/failure.ts';

let emulator: CloudEmulator;
const httpAgent = createHttpAgent();
let ess: EssClient;
let tencent: TencentAsClient;
let v2: TencentV2Client;
let emulatorAdmin: EmulatorAdmin;

beforeAll(async () => {
  emulator = await startEmulator({ seed: loadSeed() });
  emulatorAdmin = new EmulatorAdmin(emulator.url);
  ess = new EssClient({ credentials: async () => EMULATOR_KEY, httpAgent, endpointOverride: emulator.url });
  tencent = new TencentAsClient({
    credentials: async () => TENCENT_KEY,
    httpAgent,
    endpointOverride: emulator.url,
  });
  v2 = new TencentV2Client({
    credentials: async () => TENCENT_KEY,
    httpAgent,
    endpointOverride: emulator.url,
  });
});
afterAll(async () => {
  await httpAgent.close();
  await emulator.close();
});

/** The raw admin answer, for the refusals EmulatorAdmin turns into exceptions. */
async function admin(method: 'GET' | 'POST', path: string, body?: unknown) {
  const response = await request(`${emulator.url}${path}`, {
    method,
    headers: emulatorAdmin.headers,
    ...(body !== undefined && { body: JSON.stringify(body) }),
  });
  return { status: response.statusCode, body: (await response.body.json()) as Record<string, unknown> };
}

const chaos = (config: Parameters<EmulatorAdmin['chaos']>[0]) => emulatorAdmin.chaos(config);
const describeDemoGroup = () => ess.describeScalingGroups('cn-hangzhou', ['asg-demo0001']);

describe('POST /admin/chaos', () => {
  it('throttles each API in its own shape: ESS Throttling.User, Tencent RequestLimitExceeded, v2 4400', async () => {
    await chaos({ seed: 1, rates: { throttle: 1 } });

    const essError = await failure(describeDemoGroup());
    const tencentError = await failure(tencent.describeGroup('ap-guangzhou', 'asg-demo0002'));
    const v2Error = await failure(v2.instancesInGroup('ap-guangzhou', 'asg-demo0002', ['ins-demo0001']));

    expect([essError.code, essError.kind, essError.httpStatus]).toEqual([
      'Throttling.User',
      'throttled',
      400,
    ]);
    expect([tencentError.code, tencentError.kind]).toEqual(['RequestLimitExceeded', 'throttled']);
    expect(v2Error.kind).toBe('throttled');
    await emulatorAdmin.stopChaos();
  });

  it("answers a 5xx in each API's shape for serverError, all of them transient", async () => {
    await chaos({ seed: 2, rates: { serverError: 1 } });

    const errors = await Promise.all([
      failure(describeDemoGroup()),
      failure(tencent.describeGroup('ap-guangzhou', 'asg-demo0002')),
      failure(v2.instancesInGroup('ap-guangzhou', 'asg-demo0002', ['ins-demo0001'])),
    ]);

    expect(errors.map((e) => e.kind)).toEqual(['transient', 'transient', 'transient']);
    expect(errors[0]?.httpStatus).toBe(500);
    expect(errors[0]?.code).toBe('InternalError');
    expect(errors[1]?.code).toBe('InternalError');
    await emulatorAdmin.stopChaos();
  });

  it('drops before acting (nothing happens) and after acting (the activity exists), only for the listed actions', async () => {
    await chaos({ seed: 3, rates: { dropBefore: 1 }, actions: ['DetachInstances'] });
    const before = await failure(
      ess.detachInstances({
        region: 'cn-hangzhou',
        scalingGroupId: 'asg-demo0001',
        instanceIds: ['i-demo0001'],
      }),
    );
    const activitiesAfterBefore = emulator.ess.state.activitiesOf('asg-demo0001').length;
    const unaffected = await describeDemoGroup();
    await chaos({ seed: 3, rates: { dropAfter: 1 }, actions: ['DetachInstances'] });
    const after = await failure(
      ess.detachInstances({
        region: 'cn-hangzhou',
        scalingGroupId: 'asg-demo0001',
        instanceIds: ['i-demo0001'],
      }),
    );

    expect(before.code).toMatch(/^Network\./);
    expect(activitiesAfterBefore).toBe(0);
    expect(unaffected).toHaveLength(1);
    expect(after.code).toMatch(/^Network\./);
    expect(emulator.ess.state.activitiesOf('asg-demo0001')).toHaveLength(1);
    await emulatorAdmin.stopChaos();
  });

  it('slow answers normally, and GET /admin/chaos counts what was injected', async () => {
    await chaos({ seed: 4, rates: { slow: 1 }, slowMs: 20, actions: ['DescribeScalingGroups'] });

    const groups = await describeDemoGroup();
    await describeDemoGroup();
    const status = await emulatorAdmin.chaosStatus();

    expect(groups[0]?.ScalingGroupId).toBe('asg-demo0001');
    expect(status).toMatchObject({ enabled: true, calls: 2, injected: { slow: 2, throttle: 0 } });
    await emulatorAdmin.stopChaos();
    expect(await emulatorAdmin.chaosStatus()).toEqual({ enabled: false });
  });

  it('lets an explicit /admin/faults fault win over chaos, and keeps /admin/faults working as before', async () => {
    await chaos({ seed: 5, rates: { throttle: 1 } });
    await emulatorAdmin.inject({
      action: 'DescribeScalingGroups',
      error: { code: 'ServiceUnavailable', httpStatus: 503 },
    });

    const explicit = await failure(describeDemoGroup());
    const drawn = await failure(describeDemoGroup());

    expect(explicit.code).toBe('ServiceUnavailable');
    expect(drawn.code).toBe('Throttling.User');
    expect(await emulatorAdmin.chaosStatus()).toMatchObject({ calls: 1, injected: { throttle: 1 } });
    await emulatorAdmin.stopChaos();
  });

  it('refuses a config whose rates add up to more than 1, or with an unknown fault', async () => {
    expect((await admin('POST', '/admin/chaos', { rates: { throttle: 0.7, slow: 0.7 } })).status).toBe(400);
    expect((await admin('POST', '/admin/chaos', { rates: { explode: 0.1 } })).status).toBe(400);
    expect(await emulatorAdmin.chaosStatus()).toEqual({ enabled: false });
  });
});
