import { randomInt } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { request } from 'undici';
import { describe, expect, inject, it } from 'vitest';
import { AccountRegistry } from '../shared/accounts/account-registry.ts';
import { MemberAccounts } from '../shared/accounts/member-accounts.ts';
import { pollActivities } from '../shared/detach/poll.ts';
import type {
  AccountCheck,
  AccountProviders,
  ActivityReport,
  ScalingProvider,
} from '../shared/detach/ports.ts';
import { submitRequest } from '../shared/detach/submit.ts';
import { DetachError } from '../shared/errors.ts';
import { EssClient } from '../shared/providers/aliyun/ess-client.ts';
import { EssProvider } from '../shared/providers/aliyun/ess-provider.ts';
import { AliyunStsClient } from '../shared/providers/aliyun/sts-client.ts';
import { createHttpAgent } from '../shared/providers/http.ts';
import { TencentAsClient } from '../shared/providers/tencent/as-client.ts';
import { TencentStsClient } from '../shared/providers/tencent/sts-client.ts';
import { TencentProvider } from '../shared/providers/tencent/tencent-provider.ts';
import { TencentV2Client } from '../shared/providers/tencent/v2-client.ts';
import { aDomain, type Domain } from './support/domain.ts';
import { aDetachRequest, aScalingGroup, EMULATOR_KEY, type EmulatorAdmin } from './support/emulator-admin.ts';
import { aTencentGroup, aTencentRequest, TENCENT_KEY } from './support/tencent.ts';

/**
 * Member accounts (issue #21) in the domain over the real stores: the real STS clients and MemberAccounts against
 * the emulator's STS (roles of this test's own), the ledger in DynamoDB Local, the real ESS and AS clients signing
 * with the assumed credentials, wired as shared/composition.ts wires them.
 */
const emulatorUrl = inject('stack').endpoints.emulator;

type Cloud = 'aliyun' | 'tencent';
const roleArnOf = (cloud: Cloud) =>
  cloud === 'aliyun'
    ? `acs:ram::${randomInt(1e9, 9e9)}${randomInt(1e6, 9e6)}:role/scaling-detach`
    : `qcs::cam::uin/${randomInt(1e9, 9e9)}:roleName/scaling-detach`;

async function stsAdmin(admin: EmulatorAdmin, path: string, body: unknown) {
  const answer = await request(`${emulatorUrl}${path}`, {
    method: 'POST',
    headers: { ...admin.headers, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  const text = await answer.body.text();
  if (answer.statusCode !== 200) throw new Error(`${path} answered ${answer.statusCode}: ${text}`);
}

/**
 * Accounts of this test's own: each gets a role in the emulator's STS unless `broken` (its role does not exist).
 * Returns the account providers and the AssumeRole calls made, by session name.
 */
async function memberAccounts(
  domain: Domain,
  accounts: { name: string; cloud: Cloud; broken?: boolean }[],
): Promise<{ accountProviders: AccountProviders; assumed: string[] }> {
  const entries = accounts.map((account) => ({
    name: account.name,
    cloud: account.cloud,
    roleArn: roleArnOf(account.cloud),
    externalId: `ext-${account.name}`,
  }));
  await stsAdmin(
    domain.admin,
    '/admin/sts/roles',
    entries.filter((_entry, i) => !accounts[i]?.broken).map(({ name: _name, ...role }) => role),
  );
  const registry = AccountRegistry.parse({ accounts: entries });
  const httpAgent = createHttpAgent({
    connectTimeoutMs: 1000,
    responseTimeoutMs: 5000,
    connectionsPerOrigin: 8,
  });
  const aliyunSts = new AliyunStsClient({
    credentials: async () => EMULATOR_KEY,
    httpAgent,
    endpointOverride: emulatorUrl,
  });
  const tencentSts = new TencentStsClient({
    credentials: async () => TENCENT_KEY,
    httpAgent,
    endpointOverride: emulatorUrl,
  });
  const assumed: string[] = [];
  const members = new MemberAccounts({
    registry: async () => registry,
    aliyunSts: {
      assumeRole: (input) => {
        assumed.push(input.roleSessionName);
        return aliyunSts.assumeRole(input);
      },
    },
    tencentSts: {
      assumeRole: (input) => {
        assumed.push(input.roleSessionName);
        return tencentSts.assumeRole(input);
      },
    },
    now: () => Date.now(),
  });
  const built = new Map<string, ScalingProvider>();
  const accountProviders: AccountProviders = (provider, account) => {
    const key = `${provider}#${account}`;
    if (!built.has(key)) {
      const tencent = { ...members.tencent(account), httpAgent, endpointOverride: emulatorUrl };
      built.set(
        key,
        provider === 'aliyun'
          ? new EssProvider(
              new EssClient({ ...members.aliyun(account), httpAgent, endpointOverride: emulatorUrl }),
            )
          : new TencentProvider(new TencentAsClient(tencent), new TencentV2Client(tencent)),
      );
    }
    return built.get(key) as ScalingProvider;
  };
  // Intake checks the registry, as the composition root wires it.
  const check: AccountCheck = { refusal: async (request) => registry.refusal(request) };
  Object.assign(domain.deps, { accountProviders, accounts: check });
  return { accountProviders, assumed };
}

const submit = (domain: Domain, body: { requestId: string }) =>
  submitRequest(domain.deps, 'detach-instances', { body, messageId: body.requestId, receiveCount: 1 });

async function untilStatus(domain: Domain, requestId: string, status: string) {
  for (let i = 0; i < 100; i++) {
    if ((await domain.ledger.get(requestId))?.status === status) return;
    await sleep(100);
  }
  throw new Error(`${requestId} never reached ${status}`);
}

describe('member accounts in the domain', () => {
  it.each(['aliyun', 'tencent'] as const)(
    '%s: credentials that expire mid-run are refreshed once; the request ends Succeeded, acted on once',
    async (cloud) => {
      const domain = await aDomain();
      const name = `expiry-${cloud}`;
      const { assumed } = await memberAccounts(domain, [{ name, cloud }]);
      const group =
        cloud === 'aliyun'
          ? await aScalingGroup(domain.admin, { activityDurationMs: 1500 })
          : await aTencentGroup(domain.admin, { activityDurationMs: 1500 });
      const body =
        cloud === 'aliyun'
          ? aDetachRequest(group, { account: name })
          : aTencentRequest(group, { account: name });

      await submit(domain, body);
      await untilStatus(domain, body.requestId, 'IN_PROGRESS');
      // Past the end of any credentials issued so far (Alibaba 3600 s, Tencent 7200 s): the emulator refuses them,
      // while this process still holds them as good.
      await stsAdmin(domain.admin, '/admin/sts/advance', { seconds: 7201 });
      const [record] = await domain.settle([body.requestId]);

      expect(record).toMatchObject({ status: 'SUCCEEDED', attempts: 1 });
      expect(record?.event).toMatchObject({ status: 'Succeeded', account: name });
      expect(assumed).toEqual([`scaling-detach-${name}`, `scaling-detach-${name}`]);
      expect(domain.publisher.eventIdsOf(body.requestId).size).toBe(1);
      const state = await domain.admin.state();
      const activities =
        cloud === 'aliyun'
          ? state.aliyun.activities.filter((a) => a.scalingGroupId === group.scalingGroupId)
          : state.tencent.activities.filter((a) => a.groupId === group.scalingGroupId);
      expect(activities).toHaveLength(1);
    },
  );

  it('a role that cannot be assumed ends its request Failed with the cloud’s code and the account’s name, before any cloud call; another account goes on', async () => {
    const domain = await aDomain();
    await memberAccounts(domain, [
      { name: 'broken', cloud: 'aliyun', broken: true },
      { name: 'healthy', cloud: 'aliyun' },
    ]);
    const brokenGroup = await aScalingGroup(domain.admin);
    const healthyGroup = await aScalingGroup(domain.admin);
    const broken = aDetachRequest(brokenGroup, { account: 'broken', preflight: false });
    const healthy = aDetachRequest(healthyGroup, { account: 'healthy' });

    await submit(domain, broken);
    await submit(domain, healthy);
    const [brokenRecord, healthyRecord] = await domain.settle([broken.requestId, healthy.requestId]);

    expect(brokenRecord?.event).toMatchObject({
      status: 'Failed',
      account: 'broken',
      error: {
        code: 'EntityNotExist.Role',
        kind: 'fatal',
        message: expect.stringMatching(/^Account broken: /),
      },
    });
    expect(await domain.admin.calls({ scalingGroupId: brokenGroup.scalingGroupId })).toEqual([]);
    expect(healthyRecord?.event).toMatchObject({ status: 'Succeeded', account: 'healthy' });
  });

  it('the poller describes each account in batches of its own: one account’s throttling leaves another’s untouched', async () => {
    const domain = await aDomain();
    const { accountProviders } = await memberAccounts(domain, [
      { name: 'calm', cloud: 'aliyun' },
      { name: 'noisy', cloud: 'aliyun' },
    ]);
    const described: { account: string; activityIds: readonly string[] }[] = [];
    domain.deps.accountProviders = (provider, account) => {
      const real = accountProviders(provider, account);
      const wrapped: ScalingProvider = {
        activityBatchLimit: real.activityBatchLimit,
        idempotentByToken: (action) => real.idempotentByToken(action),
        submit: (operation, attempt) => real.submit(operation, attempt),
        reconcile: (region, operations) => real.reconcile(region, operations),
        remainingInstances: (operation, ids) => real.remainingInstances(operation, ids),
        inspect: (operation) => real.inspect(operation),
        describeActivities: async (region, activityIds): Promise<ActivityReport[]> => {
          described.push({ account, activityIds });
          if (account === 'noisy')
            throw new DetachError(
              'Throttling.User',
              'Request was denied due to user flow control.',
              'throttled',
            );
          return real.describeActivities(region, activityIds);
        },
      };
      return wrapped;
    };
    const calmGroup = await aScalingGroup(domain.admin);
    const noisyGroup = await aScalingGroup(domain.admin);
    const calm = aDetachRequest(calmGroup, { account: 'calm' });
    const noisy = aDetachRequest(noisyGroup, { account: 'noisy' });
    await submit(domain, calm);
    await submit(domain, noisy);
    const [calmActivity, noisyActivity] = (
      await domain.ledger.getMany([calm.requestId, noisy.requestId])
    ).map((record) => record.activityId);
    await sleep(500);

    const summary = await pollActivities(domain.deps);
    const [calmRecord] = await domain.settle([calm.requestId]);
    const noisyRecord = await domain.ledger.get(noisy.requestId);

    expect(summary.failedBatches).toEqual([
      expect.objectContaining({ account: 'noisy', code: 'Throttling.User', activityIds: [noisyActivity] }),
    ]);
    expect(calmRecord?.event).toMatchObject({ status: 'Succeeded', account: 'calm' });
    expect(noisyRecord?.status).toBe('IN_PROGRESS');
    for (const call of described) {
      expect(call.activityIds).toEqual([call.account === 'calm' ? calmActivity : noisyActivity]);
    }
  });
});
