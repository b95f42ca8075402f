import { randomBytes, randomInt } from 'node:crypto';
import { request } from 'undici';
import { describe, expect, inject, it } from 'vitest';
import { AccountRegistry, type AccountRegistryData } from '../shared/accounts/account-registry.ts';
import { MemberAccounts } from '../shared/accounts/member-accounts.ts';
import type { Action, DetachRequest } from '../shared/contracts/index.ts';
import type { ScalingProvider } from '../shared/detach/ports.ts';
import { submitRequest } from '../shared/detach/submit.ts';
import { EssClient } from '../shared/providers/aliyun/ess-client.ts';
import { EssProvider } from '../shared/providers/aliyun/ess-provider.ts';
import { AliyunStsClient } from '../shared/providers/aliyun/sts-client.ts';
import { createHttpAgent } from '../shared/providers/http.ts';
import { TencentStsClient } from '../shared/providers/tencent/sts-client.ts';
import { SIGNATURE_HEADER, signatureHeader } from '../shared/signing/webhook-signature.ts';
import { handleWebhook } from '../shared/webhook/handle-webhook.ts';
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

  it('a webhook retry of an accepted request after a registry edit is answered as that request, not refused with a Rejected event', async () => {
    const domain = await aDomain();
    const name = `retry-${randomBytes(3).toString('hex')}`;
    const registry = editableRegistry(domain, {
      accounts: [{ name, cloud: 'aliyun', roleArn: aliyunRoleArn() }],
    });
    const enqueued: DetachRequest[] = [];
    const webhook = {
      ...domain.deps,
      queue: { enqueue: async (_action: Action, body: DetachRequest) => void enqueued.push(body) },
      secret: async () => ({ current: 'local-test-webhook-secret' }),
      maxBodyBytes: 65_536,
    };
    const post = (body: string) =>
      handleWebhook(webhook as never, {
        method: 'POST',
        path: '/v1/detach-instances',
        headers: {
          'content-type': 'application/json',
          [SIGNATURE_HEADER]: signatureHeader('local-test-webhook-secret', body, domain.clock.now()),
        },
        rawBody: body,
      });
    const body = JSON.stringify({
      requestId: `req-${randomBytes(4).toString('hex')}`,
      provider: 'aliyun',
      region: 'cn-hangzhou',
      scalingGroupId: 'asg-retry',
      instanceIds: ['i-retry'],
      account: name,
    });

    const first = await post(body);
    // The account leaves the registry (or its allowedRegions narrow); the caller retries its POST, as a caller
    // whose first answer was lost does. The request is on the ledger, QUEUED, and will be dispatched.
    registry.edit({ accounts: [] });
    domain.advance(1000);
    const retry = await post(body);

    expect(first.status).toBe(202);
    const requestId = JSON.parse(body).requestId as string;
    expect((await domain.ledger.get(requestId))?.status).toBe('QUEUED');
    const rejected = domain.publisher.events.filter((event) => event.status === 'Rejected');
    // Answered as the request the ledger holds: no 422, no Rejected event beside it.
    expect({ status: retry.status, rejectedEvents: rejected.length }).toEqual({
      status: 202,
      rejectedEvents: 0,
    });
  });

  it('a redelivered message of an accepted request, after its account’s regions were narrowed, is not Rejected: no Rejected event next to its Succeeded one', async () => {
    const domain = await aDomain();
    const name = `narrowed-${randomBytes(3).toString('hex')}`;
    const roleArn = aliyunRoleArn();
    await emulatorPost(domain, '/admin/sts/roles', [{ cloud: 'aliyun', roleArn }]);
    const entry = { name, cloud: 'aliyun' as const, roleArn };
    const registry = editableRegistry(domain, { accounts: [entry] });
    const group = await aScalingGroup(domain.admin);
    const body = aDetachRequest(group, { account: name });
    const delivery = { body, messageId: `m-${body.requestId}` };
    await submitRequest(domain.deps as never, 'detach-instances', { ...delivery, receiveCount: 1 });

    // The registry now allows the account another region only ("allowedRegions at dispatch" is documented as not
    // built: accepted requests go on). The same message comes back (its function timed out after the ledger write).
    registry.edit({ accounts: [{ ...entry, allowedRegions: ['cn-shanghai'] }] });
    const again = await submitRequest(domain.deps as never, 'detach-instances', {
      ...delivery,
      receiveCount: 2,
    });
    const [record] = await domain.settle([body.requestId]);

    expect(record?.status).toBe('SUCCEEDED');
    const ends = domain.publisher.events.map((event) => `${event.requestId} ${event.status}`);
    // One end for the message: its request's, no Rejected event under sqs:<messageId> beside it.
    expect({ rejected: again.kind === 'rejected', ends }).toEqual({
      rejected: false,
      ends: [`${body.requestId} Succeeded`],
    });
  });

  describe('webhook keys and rejected requests', () => {
    const TEAM = { keyId: 'shop-team', secret: 't'.repeat(40), accounts: ['shop-review'] };
    const OWN_ONLY = { keyId: 'own-team', secret: 'o'.repeat(40), accounts: ['default'] };

    async function setup() {
      const domain = await aDomain();
      editableRegistry(domain, {
        accounts: [
          { name: 'shop-review', cloud: 'aliyun', roleArn: aliyunRoleArn(), allowedRegions: ['cn-shanghai'] },
        ],
      });
      const webhook = {
        ...domain.deps,
        queue: { enqueue: async () => {} },
        secret: async () => ({ current: 'local-test-webhook-secret' }),
        callerKeys: async () => ({ callers: [TEAM, OWN_ONLY] }),
        maxBodyBytes: 65_536,
      };
      const as = (key: typeof TEAM) => ({
        post: (body: unknown) => {
          const raw = JSON.stringify(body);
          return handleWebhook(webhook as never, {
            method: 'POST',
            path: '/v1/detach-instances',
            headers: {
              'content-type': 'application/json',
              [SIGNATURE_HEADER]: signatureHeader(key.secret, raw, domain.clock.now(), key.keyId),
            },
            rawBody: raw,
          });
        },
        status: (requestId: string) => {
          const path = `/v1/operations/${requestId}`;
          return handleWebhook(webhook as never, {
            method: 'GET',
            path,
            headers: {
              [SIGNATURE_HEADER]: signatureHeader(key.secret, `GET ${path}`, domain.clock.now(), key.keyId),
            },
            rawBody: '',
          });
        },
      });
      return { domain, team: as(TEAM), ownOnly: as(OWN_ONLY) };
    }

    // A valid body the registry refuses (region not allowed for the account), and a body the contract refuses.
    const bodies = {
      refused: () => ({
        requestId: `req-${randomBytes(4).toString('hex')}`,
        provider: 'aliyun',
        region: 'cn-hangzhou',
        scalingGroupId: 'asg-rejected',
        instanceIds: ['i-rejected'],
        account: 'shop-review',
      }),
      invalid: () => ({
        requestId: `req-${randomBytes(4).toString('hex')}`,
        provider: 'aliyun',
        region: 'cn-shanghai',
        scalingGroupId: 'asg-rejected',
        instanceIds: [],
        account: 'shop-review',
      }),
    };

    it.each(['refused', 'invalid'] as const)(
      '%s: the key that sent an account request sees its Rejected record; a key of the deployment’s own account does not',
      async (kind) => {
        const { team, ownOnly } = await setup();
        const body = bodies[kind]();

        const answer = await team.post(body);
        expect(answer.status).toBe(422);
        expect(answer.body.error).toMatchObject({ requestId: body.requestId });
        const [teamSees, ownSees] = [await team.status(body.requestId), await ownOnly.status(body.requestId)];

        // A rejected request is its account's: seen by that account's key, not by one of the deployment's own.
        expect({ team: teamSees.status, ownOnly: ownSees.status }).toEqual({ team: 200, ownOnly: 404 });
      },
    );

    it('the Rejected event of a request refused for its account names the account', async () => {
      const { domain, team } = await setup();
      const body = bodies.refused();

      await team.post(body);

      const event = domain.publisher.events.find((e) => e.requestId === body.requestId);
      expect(event?.status).toBe('Rejected');
      // Consumers route events by account.
      expect(event?.account).toBe('shop-review');
    });
  });
});
