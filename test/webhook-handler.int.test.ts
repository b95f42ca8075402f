import { describe, expect, it } from 'vitest';
import {
  type Action,
  type DetachInstancesRequest,
  type DetachRequest,
  ErrorResponse,
} from '../shared/contracts/index.ts';
import { SIGNATURE_HEADER, signatureHeader } from '../shared/signing/webhook-signature.ts';
import { handleWebhook, statusView } from '../shared/webhook/handle-webhook.ts';
import { aDomain } from './support/domain.ts';

const CURRENT = 'current-webhook-secret';
const PREVIOUS = 'previous-webhook-secret';

/** The webhook's domain over a ledger table of its own in DynamoDB Local. */
async function setup() {
  const { deps, clock, publisher } = await aDomain();
  const enqueued: { action: Action; request: DetachRequest }[] = [];
  const webhook = {
    ...deps,
    queue: {
      enqueue: async (action: Action, request: DetachRequest) => void enqueued.push({ action, request }),
    },
    secret: async () => ({ current: CURRENT, previous: PREVIOUS }),
    maxBodyBytes: 65_536,
  };
  const get = (path: string, secret = CURRENT) =>
    handleWebhook(webhook, {
      method: 'GET',
      path,
      headers: { [SIGNATURE_HEADER]: signatureHeader(secret, `GET ${path}`, clock.now()) },
      rawBody: '',
    });
  const post = (action: string, body: string, secret = CURRENT) =>
    handleWebhook(webhook, {
      method: 'POST',
      path: `/v1/${action}`,
      headers: {
        'content-type': 'application/json',
        [SIGNATURE_HEADER]: signatureHeader(secret, body, clock.now()),
      },
      rawBody: body,
    });
  return { deps, enqueued, get, post, publisher };
}

const aRequest = {
  requestId: 'req-tokens-1',
  provider: 'aliyun',
  region: 'cn-hangzhou',
  scalingGroupId: 'asg-1',
  instanceIds: ['i-1'],
  clientToken: 'caller-chosen-token',
};

describe('handleWebhook', () => {
  it('accepts a request signed with the current or the previous secret, and no other', async () => {
    const { post, enqueued } = await setup();

    const current = await post('detach-instances', JSON.stringify({ ...aRequest, requestId: 'req-current' }));
    const previous = await post(
      'detach-instances',
      JSON.stringify({ ...aRequest, requestId: 'req-previous' }),
      PREVIOUS,
    );
    const retired = await post(
      'detach-instances',
      JSON.stringify({ ...aRequest, requestId: 'req-retired' }),
      'retired-webhook-secret',
    );

    expect([current.status, previous.status, retired.status]).toEqual([202, 202, 401]);
    expect(enqueued.map((e) => e.request.requestId)).toEqual(['req-current', 'req-previous']);
  });

  it('answers 404 in the documented shape for ids that are not request ids, without echoing them', async () => {
    const { get, deps } = await setup();
    await deps.ledger.begin(
      { ...aRequest, action: 'detach-instances', clientToken: 'x', request: aRequest } as never,
      new Date(),
    );

    const answers = await Promise.all(
      ['group%7Caliyun%23cn-hangzhou%23asg-1', '%E0%A4%A', 'z'.repeat(65), 'never-seen'].map((id) =>
        get(`/v1/operations/${id}`),
      ),
    );

    expect(answers.map((a) => [a.status, ErrorResponse.safeParse(a.body).success])).toEqual(
      answers.map(() => [404, true]),
    );
    expect(JSON.stringify(answers)).not.toMatch(/group|aliyun|zzz|never-seen/);
  });

  it('a replay of a signed invalid body lands on the same Rejected record: one record, one event', async () => {
    const { deps, post, publisher } = await setup();
    const body = JSON.stringify({ provider: 'aliyun' });

    const first = await post('detach-instances', body);
    const replay = await post('detach-instances', body);

    expect(first.status).toBe(422);
    expect(replay.body).toEqual(first.body);
    expect(publisher.events.map((e) => e.status)).toEqual(['Rejected']);
    const rejectedId = (first.body.error as { requestId: string }).requestId;
    expect((await deps.ledger.get(rejectedId))?.status).toBe('REJECTED');
  });
});

describe('statusView', () => {
  it("shows the record and its request, never the request's clientToken or the record's token", () => {
    const view = statusView({
      requestId: 'req-tokens-1',
      action: 'detach-instances',
      status: 'QUEUED',
      request: { ...aRequest, preflight: true, dryRun: false } as DetachInstancesRequest,
      clientToken: 'caller-chosen-token~2',
      attempts: 1,
      createdAt: '2026-01-01T00:00:00.000Z',
      updatedAt: '2026-01-01T00:00:00.000Z',
    });

    expect(view).toMatchObject({ requestId: 'req-tokens-1', request: { instanceIds: ['i-1'] } });
    expect(JSON.stringify(view)).not.toContain('caller-chosen-token');
  });
});
