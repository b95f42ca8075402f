import { execFile } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { LOCAL_WEBHOOK_CALLERS } from '../local/stack.ts';
import { ErrorResponse } from '../shared/contracts/index.ts';
import { SIGNATURE_HEADER, signatureHeader } from '../shared/signing/webhook-signature.ts';
import { aDetachRequest, aScalingGroup } from '../support/emulator-admin.ts';
import { stackClients } from './support/stack-clients.ts';
import { webhookClient } from './support/webhook-client.ts';

/**
 * Webhook callers with key ids (issue #21, docs/accounts.md "Caller keys"), over real HTTP through the local
 * stack: the default caller (the webhook secret, no key id), and the local stack's keyed caller `local-team-a`,
 * scoped to the account `shop-dev`.
 */
const { stack, admin, waitForRecord, ledger } = stackClients();
const TEAM_A = LOCAL_WEBHOOK_CALLERS.callers.find((caller) => caller.keyId === 'local-team-a');
if (!TEAM_A) throw new Error('the local stack seeds the caller local-team-a');

/** A caller of the webhook: the default one (no key id), or one signing with its own key. */
function caller(secret: string, keyId?: string) {
  const { send } = webhookClient(stack.endpoints.http, secret);
  const get = (path: string) =>
    send('GET', path, undefined, {
      [SIGNATURE_HEADER]: signatureHeader(secret, `GET ${path}`, new Date(), keyId),
    });
  return {
    post: (action: string, payload: unknown) => {
      const body = typeof payload === 'string' ? payload : JSON.stringify(payload);
      return send('POST', `/v1/${action}`, body, {
        'content-type': 'application/json',
        [SIGNATURE_HEADER]: signatureHeader(secret, body, new Date(), keyId),
      });
    },
    status: (requestId: string) => get(`/v1/operations/${encodeURIComponent(requestId)}`),
    group: (group: { region: string; scalingGroupId: string }, account?: string) =>
      get(`/v1/groups/aliyun/${group.region}/${group.scalingGroupId}${account ? `/${account}` : ''}`),
  };
}
const defaultCaller = caller(stack.webhookSecret);
const teamA = caller(TEAM_A.secret, TEAM_A.keyId);

/** A local CLI as documented (npm run detach / status -- ... --url), against the local stack's webhook. */
const cli = (script: string, ...args: string[]) =>
  new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', `local/${script}`, ...args, '--url', stack.endpoints.http],
      { timeout: 60_000 },
      (error, stdout, stderr) => resolve({ code: error ? (error.code as number) : 0, stdout, stderr }),
    );
  });

/** Nothing of the request anywhere: no ledger record (none written, none by a function), no cloud call. */
async function nothingRecorded(requestId: string, scalingGroupId: string) {
  // Long enough for a message that had been enqueued to reach its function and its record.
  await sleep(1500);
  expect(await ledger.get(requestId)).toBeUndefined();
  expect(await admin.calls({ scalingGroupId })).toEqual([]);
}

describe('webhook callers with key ids', () => {
  it.concurrent('the default caller (no key id) works as before, and may name any account', async () => {
    const group = await aScalingGroup(admin, { instances: 2 });
    const own = aDetachRequest(group);
    const named = aDetachRequest(group, { instanceIds: group.instanceIds.slice(1, 2), account: 'shop-test' });

    const accepted = [
      await defaultCaller.post('detach-instances', own),
      await defaultCaller.post('detach-instances', named),
    ];
    await waitForRecord(own.requestId, (record) => record.status === 'SUCCEEDED', 30_000);

    expect(accepted.map((answer) => answer.status)).toEqual([202, 202]);
    expect((await defaultCaller.status(own.requestId)).body).toMatchObject({ status: 'SUCCEEDED' });
    expect((await defaultCaller.status(named.requestId)).body).toMatchObject({
      request: { account: 'shop-test' },
    });
  });

  it.concurrent('a keyed caller acts on its account: accepted, followed on the status API, ended', async () => {
    const group = await aScalingGroup(admin);
    const request = aDetachRequest(group, { account: 'shop-dev' });

    const accepted = await teamA.post('detach-instances', request);
    await waitForRecord(request.requestId, (record) => record.status === 'SUCCEEDED', 30_000);
    const status = await teamA.status(request.requestId);

    expect(accepted).toMatchObject({ status: 202, body: { requestId: request.requestId, status: 'QUEUED' } });
    expect(status.status).toBe(200);
    expect(status.body).toMatchObject({ status: 'SUCCEEDED', request: { account: 'shop-dev' } });
    expect(JSON.stringify(status.body)).not.toContain(TEAM_A.secret);
  });

  it.concurrent("a keyed caller is refused 403 for another account, or the deployment's own, with nothing recorded", async () => {
    const group = await aScalingGroup(admin);
    const otherAccount = aDetachRequest(group, { account: 'shop-test' });
    const ownAccount = aDetachRequest(group);
    // Invalid as well: a key cannot leave a Rejected record in another account's name either.
    const invalidForOther = aDetachRequest(group, { account: 'shop-test', instanceIds: [] });

    const answers = [
      await teamA.post('detach-instances', otherAccount),
      await teamA.post('detach-instances', ownAccount),
      await teamA.post('detach-instances', invalidForOther),
    ];

    expect(answers.map((answer) => answer.status)).toEqual([403, 403, 403]);
    for (const answer of answers) {
      expect(ErrorResponse.parse(answer.body).error.code).toBe('AccountNotAllowed');
      expect(JSON.stringify(answer.body)).not.toContain(TEAM_A.secret);
    }
    expect(ErrorResponse.parse(answers[0]?.body).error.message).toContain('shop-test');
    for (const request of [otherAccount, ownAccount, invalidForOther])
      await nothingRecorded(request.requestId, group.scalingGroupId);
  });

  it.concurrent('an unknown key id is refused 401 exactly like a bad signature, and nothing is recorded', async () => {
    const group = await aScalingGroup(admin);
    const request = aDetachRequest(group, { account: 'shop-dev' });

    const unknownKey = await caller(TEAM_A.secret, 'nobody').post('detach-instances', request);
    const badSignature = await caller('not-the-secret-of-local-team-a-at-all', TEAM_A.keyId).post(
      'detach-instances',
      request,
    );
    const unknownStatus = await caller(TEAM_A.secret, 'nobody').status(request.requestId);

    expect(unknownKey.status).toBe(401);
    expect(unknownKey.body).toEqual(badSignature.body);
    expect(ErrorResponse.parse(unknownKey.body).error).toMatchObject({ code: 'Unauthorized' });
    expect(unknownKey.body).not.toHaveProperty('error.message', expect.stringContaining('nobody'));
    expect(unknownStatus.status).toBe(401);
    await nothingRecorded(request.requestId, group.scalingGroupId);
  });

  it.concurrent("the status API hides another account's request from a key, as if it did not exist", async () => {
    const group = await aScalingGroup(admin, { instances: 3 });
    const others = aDetachRequest(group, {
      instanceIds: group.instanceIds.slice(0, 1),
      account: 'shop-test',
    });
    const own = aDetachRequest(group, { instanceIds: group.instanceIds.slice(1, 2) });
    const mine = aDetachRequest(group, { instanceIds: group.instanceIds.slice(2, 3), account: 'shop-dev' });
    await defaultCaller.post('detach-instances', others);
    await defaultCaller.post('detach-instances', own);
    await teamA.post('detach-instances', mine);
    // Ended, however (on a loaded machine the third may time out waiting for its group): outcomes of the group.
    for (const request of [others, own, mine])
      await waitForRecord(request.requestId, (record) => record.completedAt !== undefined, 30_000);

    const absent = await teamA.status('req-that-never-existed');
    const hidden = [await teamA.status(others.requestId), await teamA.status(own.requestId)];
    const shown = await teamA.status(mine.requestId);
    // A member account's requests are a group of their own (the account is part of the group's identity).
    const groupForKey = await teamA.group(group, 'shop-dev');
    const otherGroupForKey = await teamA.group(group, 'shop-test');
    const groupsForDefault = await Promise.all([
      defaultCaller.group(group),
      defaultCaller.group(group, 'shop-test'),
      defaultCaller.group(group, 'shop-dev'),
    ]);

    expect(absent.status).toBe(404);
    for (const answer of hidden) expect(answer).toEqual(absent);
    expect(shown.status).toBe(200);
    // The group view: the key sees its own account's group, not another's; the default caller sees each.
    const outcomeIds = (answer: { body: Record<string, unknown> }) =>
      (answer.body.outcomes as { requestId: string }[]).map((outcome) => outcome.requestId);
    expect(groupForKey.status).toBe(200);
    expect(outcomeIds(groupForKey)).toEqual([mine.requestId]);
    expect(otherGroupForKey.status).toBe(404);
    expect(JSON.stringify(otherGroupForKey.body)).not.toContain(others.requestId);
    expect(groupsForDefault.map(outcomeIds)).toEqual([[own.requestId], [others.requestId], [mine.requestId]]);
  });

  it.concurrent("a group holding only other accounts' requests is 404 for the key, like a group the ledger has not seen", async () => {
    const group = await aScalingGroup(admin);
    const others = aDetachRequest(group, { account: 'shop-test' });
    await defaultCaller.post('detach-instances', others);
    await waitForRecord(others.requestId, (record) => record.completedAt !== undefined, 30_000);

    const forKey = await teamA.group(group, 'shop-test');
    const unseen = await teamA.group({
      region: group.region,
      scalingGroupId: 'asg-never-seen-by-the-ledger',
    });

    expect((await defaultCaller.group(group, 'shop-test')).status).toBe(200);
    expect(forKey.status).toBe(404);
    expect(unseen.status).toBe(404);
    expect(JSON.stringify(forKey.body)).not.toContain(others.requestId);
  });

  it.concurrent('the CLIs sign as a keyed caller with --key-id (the local secret of that key by default)', async () => {
    const group = await aScalingGroup(admin);
    const otherGroup = await aScalingGroup(admin);
    const mine = aDetachRequest(group, { account: 'shop-dev' });
    const others = aDetachRequest(otherGroup, { account: 'shop-test' });

    const sent = await cli(
      'detach-cli.ts',
      'detach-instances',
      JSON.stringify(mine),
      '--key-id',
      'local-team-a',
      '--no-follow',
    );
    const refused = await cli(
      'detach-cli.ts',
      'detach-instances',
      JSON.stringify(others),
      '--key-id',
      'local-team-a',
    );
    const shown = await cli('status-cli.ts', mine.requestId, '--key-id', 'local-team-a');
    const unknownKey = await cli('status-cli.ts', mine.requestId, '--key-id', 'nobody');

    expect(sent.code).toBe(0);
    expect(sent.stdout).toContain(`accepted ${mine.requestId}: QUEUED`);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/refused: HTTP 403 AccountNotAllowed: .*shop-test/);
    await nothingRecorded(others.requestId, otherGroup.scalingGroupId);
    expect(shown.code).toBe(0);
    expect(shown.stdout).toContain(mine.requestId);
    // No local key of that id, and no --secret: a usage error before anything is sent.
    expect(unknownKey.code).toBe(2);
    expect(unknownKey.stderr).toContain('--key-id nobody');
  }, 180_000);
});
