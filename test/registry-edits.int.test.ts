import { randomBytes, randomInt } from 'node:crypto';
import { request } from 'undici';
import { describe, expect, inject, it } from 'vitest';
import { AccountRegistry, type AccountRegistryData } from '../shared/accounts/account-registry.ts';
import { MemberAccounts } from '../shared/accounts/member-accounts.ts';
import type { ScalingProvider } from '../shared/detach/ports.ts';
import { submitRequest } from '../shared/detach/submit.ts';
import { EssClient } from '../shared/providers/aliyun/ess-client.ts';
import { EssProvider } from '../shared/providers/aliyun/ess-provider.ts';
import { AliyunStsClient } from '../shared/providers/aliyun/sts-client.ts';
import { createHttpAgent } from '../shared/providers/http.ts';
import { TencentStsClient } from '../shared/providers/tencent/sts-client.ts';
import { aDetachRequest, aScalingGroup, EMULATOR_ROOT_KEY } from '../support/emulator-admin.ts';
import { TENCENT_ROOT_KEY } from '../support/tencent.ts';
import { aDomain, type Domain } from './support/domain.ts';

/**
 * Member accounts (issue #21) when the operator edits the registry while requests are open: the account a request
 * names is the one the registry names at its call, judged by the emulator's STS (which role issued the key that
 * signed the call) and its record of calls. Roles of random account ids are assumed with the seed's root key (the
 * deployment key's documented policy names only the local accounts).
 */
const emulatorUrl = inject('stack').endpoints.emulator;

const aliyunRoleArn = () => `acs:ram::${randomInt(1e9, 9e9)}${randomInt(1e6, 9e6)}:role/scaling-detach`;

async function emulatorPost(domain: Domain, path: string, body: unknown) {
  const answer = await request(`${emulatorUrl}${path}`, {
    method: 'POST',
    headers: { ...domain.admin.headers, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  const text = await answer.body.text();
  if (answer.statusCode !== 200) throw new Error(`${path} answered ${answer.statusCode}: ${text}`);
}

/** What the emulator's STS issued: which role each temporary access key id belongs to. */
async function roleOfKey(domain: Domain): Promise<Map<string, string>> {
  const answer = await request(`${emulatorUrl}/admin/sts`, { headers: domain.admin.headers });
  const { credentials } = (await answer.body.json()) as {
    credentials: { accessKeyId: string; roleArn: string }[];
  };
  return new Map(credentials.map((issued) => [issued.accessKeyId, issued.roleArn]));
}

/**
 * A registry the test edits as an operator edits the SSM parameter, wired as shared/composition.ts wires it: the
 * intake check and MemberAccounts read the same registry; a provider per account signs with its assumed role.
 */
function editableRegistry(domain: Domain, initial: AccountRegistryData) {
  let current = new AccountRegistry(initial);
  const registry = async () => current;
  const httpAgent = createHttpAgent({
    connectTimeoutMs: 1000,
    responseTimeoutMs: 5000,
    connectionsPerOrigin: 4,
  });
  const members = new MemberAccounts({
    registry,
    aliyunSts: new AliyunStsClient({
      credentials: async () => EMULATOR_ROOT_KEY,
      httpAgent,
      endpointOverride: emulatorUrl,
    }),
    tencentSts: new TencentStsClient({
      credentials: async () => TENCENT_ROOT_KEY,
      httpAgent,
      endpointOverride: emulatorUrl,
    }),
    now: () => Date.now(),
  });
  const built = new Map<string, ScalingProvider>();
  Object.assign(domain.deps, {
    accounts: {
      refusal: async (of: { provider: string; region: string; account: string }) => current.refusal(of),
    },
    accountProviders: (_provider: string, account: string) => {
      let found = built.get(account);
      if (!found) {
        found = new EssProvider(
          new EssClient({ ...members.aliyun(account), httpAgent, endpointOverride: emulatorUrl }),
        );
        built.set(account, found);
      }
      return found;
    },
  });
  return {
    edit: (data: AccountRegistryData) => {
      current = new AccountRegistry(data);
    },
  };
}

const submit = (domain: Domain, body: { requestId: string }) =>
  submitRequest(domain.deps as never, 'detach-instances', {
    body,
    messageId: body.requestId,
    receiveCount: 1,
  });

describe('member accounts after a registry edit', () => {
  it('a registry edit that points an account at another role: the next request acts through the new role, not the old one', async () => {
    const domain = await aDomain();
    const name = `moving-${randomBytes(3).toString('hex')}`;
    const [oldRole, newRole] = [aliyunRoleArn(), aliyunRoleArn()];
    await emulatorPost(domain, '/admin/sts/roles', [
      { cloud: 'aliyun', roleArn: oldRole, externalId: `ext-${name}` },
      { cloud: 'aliyun', roleArn: newRole, externalId: `ext-${name}` },
    ]);
    const entry = { name, cloud: 'aliyun' as const, externalId: `ext-${name}` };
    const registry = editableRegistry(domain, { accounts: [{ ...entry, roleArn: oldRole }] });
    const group = await aScalingGroup(domain.admin, { instances: 2 });
    const before = aDetachRequest(group, { account: name, instanceIds: [group.instanceIds[0]] });
    await submit(domain, before);
    await domain.settle([before.requestId]);

    // The operator corrects the registry: the account's name now stands for another cloud account's role.
    registry.edit({ accounts: [{ ...entry, roleArn: newRole }] });
    const after = aDetachRequest(group, { account: name, instanceIds: [group.instanceIds[1]] });
    await submit(domain, after);
    const [record] = await domain.settle([after.requestId]);

    expect(record?.status).toBe('SUCCEEDED');
    const detach = (await domain.admin.calls({ scalingGroupId: group.scalingGroupId })).find(
      (call) => call.action === 'DetachInstances' && call.params['InstanceId.1'] === group.instanceIds[1],
    );
    expect(detach).toBeDefined();
    const roles = await roleOfKey(domain);
    // Says: acted in the account the registry names. Did: signed with the old role's cached credentials.
    expect(roles.get(detach?.params.AccessKeyId ?? '')).toBe(newRole);
  });

  it('an account removed from the registry after its request was accepted: the request ends Failed Preflight.AccountNotRegistered, with no call', async () => {
    // Its first request's activity can no longer be read once the account is gone: the group is held until the
    // activity hold (short here) ends; then the second is dispatched, and the operation timeout ends the first
    // TimedOut, which claims nothing.
    const domain = await aDomain({ timeoutMs: 300_000, activityHoldMs: 30_000 });
    const name = `leaving-${randomBytes(3).toString('hex')}`;
    const roleArn = aliyunRoleArn();
    await emulatorPost(domain, '/admin/sts/roles', [{ cloud: 'aliyun', roleArn }]);
    const registry = editableRegistry(domain, { accounts: [{ name, cloud: 'aliyun', roleArn }] });
    const group = await aScalingGroup(domain.admin, { instances: 2, activityDurationMs: 1500 });
    const first = aDetachRequest(group, { account: name, instanceIds: [group.instanceIds[0]] });
    const second = aDetachRequest(group, { account: name, instanceIds: [group.instanceIds[1]] });
    await submit(domain, first);
    // Accepted while the account is registered; it waits behind the first request's activity.
    await submit(domain, second);
    expect((await domain.ledger.get(second.requestId))?.status).toBe('QUEUED');

    registry.edit({ accounts: [] });
    const [firstRecord, record] = await domain.settle([first.requestId, second.requestId]);

    const detached = (await domain.admin.calls({ scalingGroupId: group.scalingGroupId })).filter(
      (call) => call.action === 'DetachInstances' && call.params['InstanceId.1'] === group.instanceIds[1],
    );
    // docs/accounts.md: "An account removed from the registry after its request was accepted ends that request
    // Failed (AccountNotRegistered) at its next call, before the call is made."
    expect({ status: record?.status, code: record?.event?.error?.code, calls: detached.length }).toEqual({
      status: 'FAILED',
      code: 'Preflight.AccountNotRegistered',
      calls: 0,
    });
    expect(['SUCCEEDED', 'TIMED_OUT']).toContain(firstRecord?.status);
  });
});
