import { randomBytes, randomInt } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { request } from 'undici';
import { describe, expect, inject, it } from 'vitest';
import { composeRequestFunction } from '../shared/composition.ts';
import { pollActivities } from '../shared/detach/poll.ts';
import type { AccountProviders, ActivityReport, ScalingProvider } from '../shared/detach/ports.ts';
import { submitRequest } from '../shared/detach/submit.ts';
import { DetachError } from '../shared/errors.ts';
import {
  aDetachRequest,
  aScalingGroup,
  EMULATOR_ROOT_KEY,
  type EmulatorAdmin,
} from '../support/emulator-admin.ts';
import { aTencentGroup, aTencentRequest, TENCENT_ROOT_KEY } from '../support/tencent.ts';
import { aDomain, type Domain } from './support/domain.ts';

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
 * Accounts of this test's own (each gets a role in the emulator's STS unless `broken`: its role does not exist),
 * wired by the composition root itself (an inline registry, STS and cloud endpoints at the emulator, the
 * emulator's root keys as the deployment's own, since these roles are of random account ids that the documented
 * principal policy does not name): the account providers and the intake check the request functions use.
 */
async function memberAccounts(
  domain: Domain,
  accounts: { name: string; cloud: Cloud; broken?: boolean }[],
): Promise<{ accountProviders: AccountProviders }> {
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
  const composed = composeRequestFunction({
    LEDGER_TABLE: 'unused',
    EVENT_BUS_NAME: 'unused',
    ALIYUN_ACCESS_KEY_ID: EMULATOR_ROOT_KEY.accessKeyId,
    ALIYUN_ACCESS_KEY_SECRET: EMULATOR_ROOT_KEY.accessKeySecret,
    TENCENT_SECRET_ID: TENCENT_ROOT_KEY.secretId,
    TENCENT_SECRET_KEY: TENCENT_ROOT_KEY.secretKey,
    ESS_ENDPOINT: emulatorUrl,
    TENCENT_AS_ENDPOINT: emulatorUrl,
    TENCENT_V2_ENDPOINT: emulatorUrl,
    ALIYUN_STS_ENDPOINT: emulatorUrl,
    TENCENT_STS_ENDPOINT: emulatorUrl,
    ACCOUNTS: JSON.stringify({ accounts: entries }),
  });
  const { accountProviders, accounts: check } = composed;
  if (!accountProviders || !check) throw new Error('the composition root built no account providers');
  Object.assign(domain.deps, { accountProviders, accounts: check });
  return { accountProviders };
}

/** How many credentials the emulator's STS issued to this session (AssumeRole calls that succeeded). */
async function issuedTo(admin: EmulatorAdmin, sessionName: string): Promise<number> {
  const answer = await request(`${emulatorUrl}/admin/sts`, { headers: admin.headers });
  const { credentials } = (await answer.body.json()) as { credentials: { sessionName: string }[] };
  return credentials.filter((issued) => issued.sessionName === sessionName).length;
}

const submit = (domain: Domain, body: { requestId: string }) =>
  submitRequest(domain.deps, 'detach-instances', { body, messageId: body.requestId, receiveCount: 1 });

/** Poller passes (the test's clock moved past any backoff: a loaded machine may time a call out) until it runs. */
async function untilRunning(domain: Domain, requestId: string) {
  let status: string | undefined;
  for (let pass = 0; pass < 20; pass++) {
    status = (await domain.ledger.get(requestId))?.status;
    if (status === 'IN_PROGRESS') return;
    domain.advance(30_000);
    await pollActivities(domain.deps);
    await sleep(100);
  }
  throw new Error(`${requestId} never reached IN_PROGRESS (last: ${status})`);
}

describe('member accounts in the domain', () => {
  it.each(['aliyun', 'tencent'] as const)(
    '%s: credentials that expire mid-run are refreshed once; the request ends Succeeded, acted on once',
    async (cloud) => {
      const domain = await aDomain();
      const name = `expiry-${cloud}-${randomBytes(3).toString('hex')}`;
      await memberAccounts(domain, [{ name, cloud }]);
      const group =
        cloud === 'aliyun'
          ? await aScalingGroup(domain.admin, { activityDurationMs: 1500 })
          : await aTencentGroup(domain.admin, { activityDurationMs: 1500 });
      const body =
        cloud === 'aliyun'
          ? aDetachRequest(group, { account: name })
          : aTencentRequest(group, { account: name });

      await submit(domain, body);
      await untilRunning(domain, body.requestId);
      const assumedBefore = await issuedTo(domain.admin, `scaling-detach-${name}`);
      // Past the end of any credentials issued so far (Alibaba 3600 s, Tencent 7200 s): the emulator refuses them,
      // while this process still holds them as good.
      await stsAdmin(domain.admin, '/admin/sts/advance', { seconds: 7201 });
      const [record] = await domain.settle([body.requestId]);

      expect(record).toMatchObject({ status: 'SUCCEEDED', attempts: 1 });
      expect(record?.event).toMatchObject({ status: 'Succeeded', account: name });
      // Assumed once more, once, when the emulator refused the credentials mid-run.
      expect(assumedBefore).toBeGreaterThan(0);
      expect(await issuedTo(domain.admin, `scaling-detach-${name}`)).toBe(assumedBefore + 1);
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
