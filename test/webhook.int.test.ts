import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { ErrorResponse } from '../shared/contracts/index.ts';
import { SIGNATURE_HEADER, signatureHeader, verifySignature } from '../shared/signing/webhook-signature.ts';
import { aDetachRequest, aScalingGroup } from '../support/emulator-admin.ts';
import { stackClients } from './support/stack-clients.ts';
import { callbackReceiver, webhookClient } from './support/webhook-client.ts';

/** The webhook over real HTTP through serverless-offline, to the queue, the function, the poller and back. */
const { stack, admin, waitForRecord, delivered, ledger } = stackClients();
const webhook = webhookClient(stack.endpoints.http, stack.webhookSecret);
/** serverless.yml's local defaults: the previous webhook secret (still accepted) and the callback secret. */
const PREVIOUS_WEBHOOK_SECRET = 'local-previous-webhook-secret-do-not-use';
const CALLBACK_SECRET = 'local-callback-secret-do-not-use-in-prod';

/** No key named like a token anywhere in an answer. */
const tokenKeysOf = (value: unknown): string[] =>
  value && typeof value === 'object'
    ? Object.entries(value).flatMap(([key, child]) => [
        ...(/token/i.test(key) ? [key] : []),
        ...tokenKeysOf(child),
      ])
    : [];

/** Nothing was enqueued: no function ever made a ledger record for it, and the cloud saw no call. */
async function nothingEnqueued(requestId: string, scalingGroupId: string) {
  await sleep(1500);
  expect(await ledger.get(requestId)).toBeUndefined();
  expect(await admin.calls({ scalingGroupId })).toEqual([]);
}

describe('webhook', () => {
  it.concurrent('a signed request is accepted (202), followed on the status API, and ends with its event and a signed callback', async () => {
    const group = await aScalingGroup(admin, { activityDurationMs: 800 });
    const receiver = await callbackReceiver(CALLBACK_SECRET);
    const request = aDetachRequest(group, { callbackUrl: receiver.url, clientToken: 'my-own-cloud-token-1' });

    const accepted = await webhook.post('detach-instances', request);
    const first = await webhook.status(request.requestId);
    await waitForRecord(request.requestId, (r) => r.callback?.deliveredAt !== undefined, 30_000);
    const last = await webhook.status(request.requestId);
    await receiver.close();

    expect(accepted).toEqual({
      status: 202,
      body: {
        requestId: request.requestId,
        status: 'QUEUED',
        statusUrl: `/v1/operations/${request.requestId}`,
      },
    });
    expect(first.status).toBe(200);
    expect(['QUEUED', 'IN_PROGRESS']).toContain(first.body.status);
    expect(last.body).toMatchObject({
      status: 'SUCCEEDED',
      activityId: expect.stringMatching(/^asa-/),
      event: { status: 'Succeeded' },
    });
    expect(last.body).toMatchObject({ request: { requestId: request.requestId } });
    expect(tokenKeysOf([first.body, last.body])).toEqual([]);
    expect(JSON.stringify([first.body, last.body])).not.toContain('my-own-cloud-token-1');
    expect(receiver.received).toHaveLength(1);
    // Signed with the callback secret, not the webhook's: a receiver cannot forge webhook requests.
    expect(receiver.received[0]?.verified).toBe(true);
    expect(
      verifySignature(
        receiver.received[0]?.signature,
        stack.webhookSecret,
        receiver.received[0]?.body as string,
      ).ok,
    ).toBe(false);
    expect(JSON.parse(receiver.received[0]?.body as string)).toMatchObject({
      requestId: request.requestId,
      status: 'Succeeded',
    });
  });

  it.concurrent('a callback endpoint that fails is retried with backoff; the event is not held back', async () => {
    const group = await aScalingGroup(admin, { activityDurationMs: 200 });
    const receiver = await callbackReceiver(CALLBACK_SECRET, 2);
    const request = aDetachRequest(group, { callbackUrl: receiver.url });

    await webhook.post('detach-instances', request);
    const published = await waitForRecord(request.requestId, delivered, 30_000);
    const done = await waitForRecord(request.requestId, (r) => r.callback?.deliveredAt !== undefined, 30_000);
    await receiver.close();

    expect(published.deliveredEvents).toBe(1);
    expect(receiver.refusedCount()).toBe(2);
    expect(done.callback).toMatchObject({ attempts: 3, url: receiver.url });
  });

  it.concurrent("a callback that fails shows a code on the status API, never the receiver's answer", async () => {
    const group = await aScalingGroup(admin, { activityDurationMs: 200 });
    const receiver = await callbackReceiver(CALLBACK_SECRET, 1_000);
    const request = aDetachRequest(group, { callbackUrl: receiver.url });

    await webhook.post('detach-instances', request);
    await waitForRecord(request.requestId, (r) => r.callback?.lastError !== undefined, 30_000);
    const shown = await webhook.status(request.requestId);
    await receiver.close();

    expect(shown.body.callback).toMatchObject({ url: receiver.url, lastError: 'CallbackHttpStatus' });
    expect(JSON.stringify(shown.body)).not.toMatch(/HTTP 500|answered/);
  });

  it.concurrent('either of the two webhook secrets is accepted while one is rotated, and every v1 counts', async () => {
    const group = await aScalingGroup(admin);
    const signedWithPrevious = aDetachRequest(group);
    const signedTwice = aDetachRequest(group);
    const previousBody = JSON.stringify(signedWithPrevious);
    const twiceBody = JSON.stringify(signedTwice);

    const answers = await Promise.all([
      webhook.send('POST', '/v1/detach-instances', previousBody, {
        'content-type': 'application/json',
        [SIGNATURE_HEADER]: signatureHeader(PREVIOUS_WEBHOOK_SECRET, previousBody),
      }),
      // A caller mid-rotation signs with an unknown new secret first and the current one last... or first.
      webhook.send('POST', '/v1/detach-instances', twiceBody, {
        'content-type': 'application/json',
        [SIGNATURE_HEADER]: signatureHeader(
          [stack.webhookSecret, 'a-secret-the-service-does-not-know'],
          twiceBody,
        ),
      }),
    ]);
    const statusWithPrevious = await webhookClient(stack.endpoints.http, PREVIOUS_WEBHOOK_SECRET).status(
      signedWithPrevious.requestId,
    );
    const retired = await webhookClient(stack.endpoints.http, 'a-retired-secret-nobody-has').status(
      signedWithPrevious.requestId,
    );

    expect(answers.map((a) => a.status)).toEqual([202, 202]);
    expect(statusWithPrevious).toMatchObject({
      status: 200,
      body: { requestId: signedWithPrevious.requestId },
    });
    expect(retired.status).toBe(401);
  });

  it.concurrent("the status API shows the cloud's progress while the activity runs", async () => {
    const group = await aScalingGroup(admin, { activityDurationMs: 4000 });
    const request = aDetachRequest(group);

    await webhook.post('detach-instances', request);
    await waitForRecord(request.requestId, (r) => r.cloudProgress !== undefined, 15_000);
    const running = await webhook.status(request.requestId);

    expect(running.body).toMatchObject({
      status: 'IN_PROGRESS',
      cloudProgress: { statusCode: 'InProgress', progress: expect.any(Number) },
    });
  });

  it.concurrent('a repeated request id gets the same answer and is not enqueued twice', async () => {
    const group = await aScalingGroup(admin);
    const request = aDetachRequest(group);

    await webhook.post('detach-instances', request);
    await waitForRecord(request.requestId, delivered, 30_000);
    const again = await webhook.post('detach-instances', request);

    expect(again).toMatchObject({ status: 202, body: { requestId: request.requestId, status: 'SUCCEEDED' } });
    expect(
      await admin.calls({ action: 'DetachInstances', scalingGroupId: group.scalingGroupId }),
    ).toHaveLength(1);
  });

  describe('refusals are precise and enqueue nothing', () => {
    it.concurrent('401 without a signature, with a wrong one, or a stale one; the signature is never echoed', async () => {
      const group = await aScalingGroup(admin);
      const request = aDetachRequest(group);
      const body = JSON.stringify(request);
      const stale = signatureHeader(stack.webhookSecret, body, new Date(Date.now() - 301_000));
      const forged = signatureHeader('not-the-secret-at-all', body);

      const answers = await Promise.all([
        webhook.send('POST', '/v1/detach-instances', body, { 'content-type': 'application/json' }),
        webhook.send('POST', '/v1/detach-instances', body, {
          'content-type': 'application/json',
          [SIGNATURE_HEADER]: forged,
        }),
        webhook.send('POST', '/v1/detach-instances', body, {
          'content-type': 'application/json',
          [SIGNATURE_HEADER]: stale,
        }),
      ]);

      expect(answers.map((a) => [a.status, (a.body.error as { code: string }).code])).toEqual([
        [401, 'Unauthorized'],
        [401, 'Unauthorized'],
        [401, 'Unauthorized'],
      ]);
      expect(JSON.stringify(answers)).not.toContain(forged.split('v1=')[1]);
      await nothingEnqueued(request.requestId, group.scalingGroupId);
    });

    it.concurrent('415 for a body that is not application/json', async () => {
      const group = await aScalingGroup(admin);
      const request = aDetachRequest(group);
      const body = JSON.stringify(request);

      const answer = await webhook.send('POST', '/v1/detach-instances', body, {
        'content-type': 'text/plain',
        [SIGNATURE_HEADER]: signatureHeader(stack.webhookSecret, body),
      });

      expect(answer.status).toBe(415);
      await nothingEnqueued(request.requestId, group.scalingGroupId);
    });

    it.concurrent('413 for a body over the size limit', async () => {
      const group = await aScalingGroup(admin);
      const request = aDetachRequest(group, { padding: 'x'.repeat(70_000) });

      const answer = await webhook.post('detach-instances', request);

      expect(answer.status).toBe(413);
      await nothingEnqueued(request.requestId, group.scalingGroupId);
    });

    it.concurrent('422 for invalid JSON and for contract violations, with the zod issues', async () => {
      const group = await aScalingGroup(admin);
      const request = aDetachRequest(group, { instanceIds: [], region: 'Hangzhou' });

      const badJson = await webhook.post('detach-instances', '{"requestId": oops');
      const badContract = await webhook.post('detach-instances', request);

      expect(badJson).toMatchObject({ status: 422, body: { error: { code: 'InvalidJson' } } });
      expect(badContract.status).toBe(422);
      expect(
        (badContract.body.error as { issues: { path: string }[] }).issues.map((i) => i.path).sort(),
      ).toEqual(['instanceIds', 'region']);
      // Bad input still leaves a ledger entry and a Rejected event, never a queue message.
      const record = await waitForRecord(request.requestId, delivered);
      expect(record.status).toBe('REJECTED');
      expect(await admin.calls({ scalingGroupId: group.scalingGroupId })).toEqual([]);
    });

    it.concurrent('404 for an unknown action, and for an unknown operation', async () => {
      const unknownAction = await webhook.post('reboot-everything', { requestId: 'x' });
      const unknownOperation = await webhook.status('never-seen-1');

      expect(unknownAction.status).toBe(404);
      expect(unknownOperation.status).toBe(404);
    });

    it.concurrent('a replay of a signed but invalid body adds no record and no event', async () => {
      const body = JSON.stringify({ provider: 'aliyun', instanceIds: [] });
      const headers = {
        'content-type': 'application/json',
        [SIGNATURE_HEADER]: signatureHeader(stack.webhookSecret, body),
      };

      const first = await webhook.send('POST', '/v1/detach-instances', body, headers);
      const rejectedId = first.body.error && (first.body.error as { requestId: string }).requestId;
      const record = await waitForRecord(rejectedId as string, delivered);
      const replays = await Promise.all(
        [1, 2, 3].map(() => webhook.send('POST', '/v1/detach-instances', body, headers)),
      );
      await sleep(1500);
      const after = await ledger.get(rejectedId as string);

      expect(first.status).toBe(422);
      expect(replays.map((r) => [r.status, (r.body.error as { requestId: string }).requestId])).toEqual(
        replays.map(() => [422, rejectedId]),
      );
      expect(record.status).toBe('REJECTED');
      expect(after?.deliveredEvents).toBe(1);
      expect(after?.createdAt).toBe(record.createdAt);
    });

    it.concurrent('every status path answers in the documented shape: a group key, long ids', async () => {
      const group = await aScalingGroup(admin);
      const request = aDetachRequest(group);
      await webhook.post('detach-instances', request);
      await waitForRecord(request.requestId, delivered, 30_000);
      const groupKey = `group|aliyun#${group.region}#${group.scalingGroupId}`;

      const answers = await Promise.all(
        [groupKey, 'x'.repeat(51), 'y'.repeat(64), 'z'.repeat(65)].map((id) => webhook.status(id)),
      );

      expect(answers.map((a) => [a.status, ErrorResponse.safeParse(a.body).success])).toEqual(
        answers.map(() => [404, true]),
      );
    });
  });
});
