import { describe, expect, it } from 'vitest';
import { aDetachRequest, aScalingGroup } from '../support/emulator-admin.ts';
import { stackClients } from './support/stack-clients.ts';
import { webhookClient } from './support/webhook-client.ts';

/**
 * The local stack hands the webhook the body's bytes and the path as the caller sent them, as API Gateway's
 * HTTP API does (local/http-api.ts): the signature covers exactly those, so nothing on the way may re-encode
 * a body or decode a path.
 */
const { stack, admin } = stackClients();
const webhook = webhookClient(stack.endpoints.http, stack.webhookSecret);

describe('the webhook receives the raw body and path locally', () => {
  it.concurrent.each(['null', '"a string"', 'false', '0', '  {"requestId":"spaced"}  '])(
    'a validly signed body %s is judged by the contract (422), not refused as badly signed',
    async (body) => {
      const { status, body: answer } = await webhook.post('detach-instances', body);

      expect(status).toBe(422);
      expect(answer).toMatchObject({ error: { code: 'InvalidRequest' } });
    },
  );

  it.concurrent('a body signed as sent, with its own spacing and key order, is accepted', async () => {
    const group = await aScalingGroup(admin);
    const request = aDetachRequest(group);
    const body = `{ "instanceIds" : ${JSON.stringify(request.instanceIds)},\n "requestId": "${request.requestId}", "provider":"aliyun", "region":"${request.region}", "scalingGroupId":"${request.scalingGroupId}" }`;

    const { status, body: answer } = await webhook.post('detach-instances', body);

    expect(status).toBe(202);
    expect(answer).toMatchObject({ requestId: request.requestId });
  });

  it.concurrent("the status of a request whose id holds ':' verifies and is found", async () => {
    const group = await aScalingGroup(admin);
    const request = { ...aDetachRequest(group), requestId: `ns:${aDetachRequest(group).requestId}` };
    expect((await webhook.post('detach-instances', request)).status).toBe(202);

    const { status, body } = await webhook.status(request.requestId);

    expect(status).toBe(200);
    expect(body).toMatchObject({ requestId: request.requestId });
  });

  it.concurrent('an unknown route gets HTTP API 404', async () => {
    const { status } = await webhook.send('GET', '/v2/nothing');

    expect(status).toBe(404);
  });
});
