import { DynamoDBClient, GetItemCommand } from '@aws-sdk/client-dynamodb';
import { request } from 'undici';
import { describe, expect, it } from 'vitest';
import { groupKeyOf } from '../shared/detach/dispatch.ts';
import type { StoredRecord } from '../shared/detach/ports.ts';
import { aDetachRequest, aScalingGroup } from '../support/emulator-admin.ts';
import { aTencentGroup, aTencentRequest } from '../support/tencent.ts';
import { stackClients } from './support/stack-clients.ts';
import { webhookClient } from './support/webhook-client.ts';

/**
 * Member accounts (issue #21) on the local stack: requests naming an account of local/accounts.ts act through the
 * role the emulator's STS lets the deployment's keys assume, through the queue and through the webhook.
 */
const { stack, send, waitForRecord, admin, ledger } = stackClients();
/** Ended, and its event on the bus (its delivery back is record-delivery's, tested elsewhere). */
const published = (record: StoredRecord) => record.eventPublishedAt !== undefined;
const webhook = webhookClient(stack.endpoints.http, stack.webhookSecret);

const dynamodb = new DynamoDBClient({ ...stack.aws, endpoint: stack.endpoints.dynamodb });
const groupItemExists = async (groupKey: string) =>
  (
    await dynamodb.send(
      new GetItemCommand({
        TableName: stack.resources.ledgerTable,
        Key: { requestId: { S: `group|${groupKey}` } },
      }),
    )
  ).Item !== undefined;

interface IssuedView {
  cloud: string;
  accessKeyId: string;
  roleArn: string;
  sessionName: string;
}

/** What the emulator's STS issued (never secrets or tokens). */
async function issuedTo(sessionName: string): Promise<IssuedView[]> {
  const answer = await request(`${stack.endpoints.emulator}/admin/sts`, { headers: admin.headers });
  const { credentials } = (await answer.body.json()) as { credentials: IssuedView[] };
  return credentials.filter((issued) => issued.sessionName === sessionName);
}

describe('member accounts through assumed roles', () => {
  it.concurrent('Alibaba, through the queue: Succeeded, every ESS call signed with the role’s temporary key', async () => {
    const group = await aScalingGroup(admin);
    const request = aDetachRequest(group, { account: 'shop-dev' });

    await send('detach-instances', request);
    const record = await waitForRecord(request.requestId, published, 45_000);

    expect(record.event).toMatchObject({ status: 'Succeeded', account: 'shop-dev' });
    expect(await groupItemExists(`aliyun#${group.region}#${group.scalingGroupId}#shop-dev`)).toBe(true);
    const calls = await admin.calls({ scalingGroupId: group.scalingGroupId });
    expect(calls.map((call) => call.action)).toContain('DetachInstances');
    const issued = await issuedTo('scaling-detach-shop-dev');
    expect(issued.length).toBeGreaterThan(0);
    const temporaryKeys = new Set(issued.map((credentials) => credentials.accessKeyId));
    for (const call of calls) expect(temporaryKeys).toContain(call.params.AccessKeyId);
  });

  it.concurrent('Tencent, through the queue: Succeeded through the assumed role', async () => {
    const group = await aTencentGroup(admin);
    const request = aTencentRequest(group, { account: 'games-dev' });

    await send('detach-instances', request);
    const record = await waitForRecord(request.requestId, published, 45_000);

    expect(record.event).toMatchObject({ status: 'Succeeded', provider: 'tencent', account: 'games-dev' });
    expect(await issuedTo('scaling-detach-games-dev')).not.toEqual([]);
    const instance = (await admin.state()).tencent.instances.find(
      (i) => i.instanceId === group.instanceIds[0],
    );
    expect(instance?.autoScalingGroupId).toBeUndefined();
  });

  it.concurrent.each([
    [
      'Alibaba',
      'shop-test',
      async () => aDetachRequest(await aScalingGroup(admin), { account: 'shop-test' }),
    ],
    [
      'Tencent',
      'games-test',
      async () =>
        aTencentRequest(await aTencentGroup(admin, { region: 'ap-shanghai' }), { account: 'games-test' }),
    ],
  ])(
    '%s, through the webhook: accepted, the status answer and the event carry the account',
    async (_cloud, account, aRequest) => {
      const request = await aRequest();

      const accepted = await webhook.post('detach-instances', request);
      await waitForRecord(request.requestId, published, 45_000);
      const status = await webhook.status(request.requestId);

      expect(accepted.status).toBe(202);
      expect(status.body).toMatchObject({
        status: 'SUCCEEDED',
        account,
        request: { account },
        event: { status: 'Succeeded', account },
      });
      expect(await issuedTo(`scaling-detach-${account}`)).not.toEqual([]);
    },
  );

  it.concurrent('two accounts with the same group id are two groups; no account is a third, keyed as before', async () => {
    const group = await aScalingGroup(admin, { instances: 3 });
    const requests = [
      aDetachRequest(group, { account: 'shop-dev', instanceIds: [group.instanceIds[0]] }),
      aDetachRequest(group, { account: 'shop-test', instanceIds: [group.instanceIds[1]] }),
      aDetachRequest(group, { instanceIds: [group.instanceIds[2]] }),
    ];

    for (const request of requests) await send('detach-instances', request);
    const records = await Promise.all(requests.map((r) => waitForRecord(r.requestId, published, 45_000)));

    const base = `aliyun#${group.region}#${group.scalingGroupId}`;
    // Each its own group in the ledger (its lease, its activity), under its own key.
    for (const key of [`${base}#shop-dev`, `${base}#shop-test`, base])
      expect(await groupItemExists(key)).toBe(true);
    expect(records.map((record) => record.event?.status)).toEqual(['Succeeded', 'Succeeded', 'Succeeded']);
    expect(records[2]?.event).not.toHaveProperty('account');
    expect(groupKeyOf({ provider: 'aliyun', ...group })).toBe(base);
  });

  it.concurrent("the group view shows a member account's group apart from the deployment's group of that id", async () => {
    const group = await aScalingGroup(admin, { instances: 2 });
    const inAccount = aDetachRequest(group, { account: 'shop-dev', instanceIds: [group.instanceIds[0]] });
    const own = aDetachRequest(group, { instanceIds: [group.instanceIds[1]] });
    for (const request of [inAccount, own]) await send('detach-instances', request);
    await Promise.all([inAccount, own].map((r) => waitForRecord(r.requestId, published, 45_000)));
    const path = `/v1/groups/aliyun/${group.region}/${group.scalingGroupId}`;
    const outcomeIds = (view: { body: Record<string, unknown> }) =>
      (view.body.outcomes as { requestId: string }[]).map((outcome) => outcome.requestId);

    const ofAccount = await webhook.get(`${path}/shop-dev`);
    const ofDeployment = await webhook.get(path);
    const ofOtherAccount = await webhook.get(`${path}/shop-test`);

    expect(ofAccount.status).toBe(200);
    expect(outcomeIds(ofAccount)).toEqual([inAccount.requestId]);
    expect(outcomeIds(ofDeployment)).toEqual([own.requestId]);
    expect(ofOtherAccount.status).toBe(404);
  });

  it.concurrent('an unknown account is Rejected at intake, through the queue, before any cloud call', async () => {
    const group = await aScalingGroup(admin);
    const request = aDetachRequest(group, { account: 'nobody' });

    await send('detach-instances', request);
    const record = await waitForRecord(request.requestId, published, 45_000);

    expect(record).toMatchObject({ status: 'REJECTED' });
    expect(record.event?.error).toMatchObject({
      code: 'UnknownAccount',
      message: expect.stringContaining('nobody'),
      issues: [{ path: 'account' }],
    });
    expect(await admin.calls({ scalingGroupId: group.scalingGroupId })).toEqual([]);
  });

  it.concurrent.each([
    ['an unknown account', { account: 'nobody' }, 'UnknownAccount'],
    ['an account of the other cloud', { account: 'games-dev' }, 'AccountCloudMismatch'],
  ])('the webhook refuses %s (422), and nothing is queued', async (_case, fields, code) => {
    const group = await aScalingGroup(admin);
    const request = aDetachRequest(group, fields);

    const answer = await webhook.post('detach-instances', request);

    expect(answer).toMatchObject({ status: 422, body: { error: { code, requestId: request.requestId } } });
    expect((await ledger.get(request.requestId))?.status).toBe('REJECTED');
    expect(await admin.calls({ scalingGroupId: group.scalingGroupId })).toEqual([]);
  });

  it.concurrent('the webhook refuses a region the account does not allow', async () => {
    const group = await aTencentGroup(admin, { region: 'ap-beijing' });
    const answer = await webhook.post('detach-instances', aTencentRequest(group, { account: 'games-test' }));

    expect(answer).toMatchObject({ status: 422, body: { error: { code: 'AccountRegionNotAllowed' } } });
  });
});
