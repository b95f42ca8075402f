import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { SIGNATURE_HEADER, signatureHeader } from '../shared/signing/webhook-signature.ts';
import { aDetachRequest, aScalingGroup } from './support/emulator-admin.ts';
import { stackClients } from './support/stack-clients.ts';
import { callbackReceiver, webhookClient } from './support/webhook-client.ts';

/** The webhook over real HTTP through serverless-offline, to the queue, the function, the poller and back. */
const { stack, admin, waitForRecord, delivered, ledger } = stackClients();
const webhook = webhookClient(stack.endpoints.http, stack.webhookSecret);

/** Nothing was enqueued: no function ever made a ledger record for it, and the cloud saw no call. */
async function nothingEnqueued(requestId: string, scalingGroupId: string) {
  await sleep(1500);
  expect(await ledger.get(requestId)).toBeUndefined();
  expect(await admin.calls({ scalingGroupId })).toEqual([]);
}

describe('webhook', () => {
  it.concurrent('a signed request is accepted (202), followed on the status API, and ends with its event and a signed callback', async () => {
    const group = await aScalingGroup(admin, { activityDurationMs: 800 });
    const receiver = await callbackReceiver(stack.webhookSecret);
    const request = aDetachRequest(group, { callbackUrl: receiver.url });

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
    expect(last.body.clientToken).toBeUndefined();
    expect(receiver.received).toHaveLength(1);
    expect(receiver.received[0]?.verified).toBe(true);
    expect(JSON.parse(receiver.received[0]?.body as string)).toMatchObject({
      requestId: request.requestId,
      status: 'Succeeded',
    });
  });

  it.concurrent('a callback endpoint that fails is retried with backoff; the event is not held back', async () => {
    const group = await aScalingGroup(admin, { activityDurationMs: 200 });
    const receiver = await callbackReceiver(stack.webhookSecret, 2);
    const request = aDetachRequest(group, { callbackUrl: receiver.url });

    await webhook.post('detach-instances', request);
    const published = await waitForRecord(request.requestId, delivered, 30_000);
    const done = await waitForRecord(request.requestId, (r) => r.callback?.deliveredAt !== undefined, 30_000);
    await receiver.close();

    expect(published.deliveredEvents).toBe(1);
    expect(receiver.refusedCount()).toBe(2);
    expect(done.callback).toMatchObject({ attempts: 3, url: receiver.url });
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
  });
});
