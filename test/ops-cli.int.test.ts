import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { request } from 'undici';
import { afterAll, describe, expect, it } from 'vitest';
import { SIGNATURE_HEADER, signatureHeader } from '../shared/signing/webhook-signature.ts';
import { aDetachRequest, aScalingGroup } from '../support/emulator-admin.ts';
import { stackClients } from './support/stack-clients.ts';
import { webhookClient } from './support/webhook-client.ts';

const { stack, admin, ledger } = stackClients();
const webhook = webhookClient(stack.endpoints.http, stack.webhookSecret);

/** The CLIs that read .local/stack.json (send, invoke) find this stack through a file of its own. */
const dir = mkdtempSync(join(tmpdir(), 'scaling-detach-ops-'));
const stackFile = join(dir, 'stack.json');
writeFileSync(stackFile, JSON.stringify({ pid: 0, endpoints: stack.endpoints, ports: {} }));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A CLI as documented (npm run <script> -- ...), against the test stack. */
const cli = (script: string, ...args: string[]) =>
  new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', `local/${script}`, ...args],
      { timeout: 120_000, env: { ...process.env, SCALING_DETACH_STACK_FILE: stackFile } },
      (error, stdout, stderr) => resolve({ code: error ? (error.code as number) : 0, stdout, stderr }),
    );
  });
const url = ['--url', stack.endpoints.http];

/** One line on stderr, and no stack trace. */
const oneLine = (stderr: string) => {
  expect(stderr.trim().split('\n')).toHaveLength(1);
  expect(stderr).not.toMatch(/^\s+at /m);
};

const signedGet = async (path: string, secret = stack.webhookSecret) => {
  const response = await request(`${stack.endpoints.http}${path}`, {
    headers: { [SIGNATURE_HEADER]: signatureHeader(secret, `GET ${path}`) },
  });
  return { status: response.statusCode, body: (await response.body.json()) as Record<string, unknown> };
};

/** Reads the group view until `seen` holds (the state the test waits for), and returns that view. */
async function groupViewWhen(
  path: string,
  seen: (view: Record<string, unknown>) => boolean,
): Promise<Record<string, unknown>> {
  let last: unknown;
  for (let i = 0; i < 120; i++) {
    const { status, body } = await signedGet(path);
    last = body;
    if (status === 200 && seen(body)) return body;
    await sleep(100);
  }
  throw new Error(`the group never showed the state waited for; last: ${JSON.stringify(last)}`);
}

const ended = (requestId: string) =>
  (async () => {
    for (let i = 0; i < 300; i++) {
      const record = await ledger.get(requestId);
      if (record?.eventPublishedAt) return record;
      await sleep(100);
    }
    throw new Error(`${requestId} did not end`);
  })();

describe('npm run status', () => {
  it.concurrent('shows a request from the signed status API: status, group, activity; --json the answer', async () => {
    const group = await aScalingGroup(admin);
    const request = aDetachRequest(group);
    expect((await webhook.post('detach-instances', request)).status).toBe(202);
    const record = await ended(request.requestId);

    const shown = await cli('status-cli.ts', request.requestId, ...url);
    const json = await cli('status-cli.ts', request.requestId, '--json', ...url);

    expect(shown.code).toBe(0);
    expect(shown.stdout).toContain(`status    SUCCEEDED activity ${record.activityId}`);
    expect(shown.stdout).toContain(
      `group     aliyun cn-hangzhou ${group.scalingGroupId}   (npm run group -- aliyun cn-hangzhou ${group.scalingGroupId})`,
    );
    expect(shown.stdout).toMatch(/^event {5}Succeeded [0-9a-f-]+, published /m);
    expect(json.code).toBe(0);
    expect(JSON.parse(json.stdout)).toMatchObject({ requestId: request.requestId, status: 'SUCCEEDED' });
    expect(json.stdout).not.toContain('clientToken');
  });

  it.concurrent('an unknown request exits 1, a wrong secret 2, each with one line', async () => {
    const unknown = await cli('status-cli.ts', 'no-such-request-here', ...url);
    const wrongSecret = await cli('status-cli.ts', 'anything', '--secret', 'not-the-webhook-secret', ...url);

    expect(unknown.code).toBe(1);
    oneLine(unknown.stderr);
    expect(unknown.stderr).toContain('no request no-such-request-here');
    expect(wrongSecret.code).toBe(2);
    oneLine(wrongSecret.stderr);
    expect(wrongSecret.stderr).toMatch(/refused: HTTP 401 Unauthorized: .*check --secret/);
  });
});

describe('the group view: GET /v1/groups/{provider}/{region}/{groupId} and npm run group', () => {
  it.concurrent('shows the running activity with its requests, what waits behind it, and the last outcomes', async () => {
    const group = await aScalingGroup(admin, { activityDurationMs: 6000 });
    const path = `/v1/groups/aliyun/cn-hangzhou/${group.scalingGroupId}`;
    const failed = aDetachRequest(group, { instanceIds: ['i-not-in-this-group'] });
    expect((await webhook.post('detach-instances', failed)).status).toBe(202);
    await ended(failed.requestId);
    const running = aDetachRequest(group, { instanceIds: [group.instanceIds[0]] });
    const waiting = aDetachRequest(group, { instanceIds: [group.instanceIds[1]] });
    expect((await webhook.post('detach-instances', running)).status).toBe(202);

    const withActivity = await groupViewWhen(path, (view) => view.activity !== undefined);
    expect((await webhook.post('detach-instances', waiting)).status).toBe(202);
    const withWaiting = await groupViewWhen(
      path,
      (view) => (view.waiting as { count: number }).count === 1 && view.activity !== undefined,
    );

    const runningRecord = await ledger.get(running.requestId);
    expect(withActivity.activity).toMatchObject({
      activityId: runningRecord?.activityId,
      requestIds: [running.requestId],
      startedAt: runningRecord?.submittedAt,
    });
    expect((withActivity.activity as { ageSeconds: number }).ageSeconds).toBeGreaterThanOrEqual(0);
    expect(withWaiting.waiting).toMatchObject({ count: 1, oldest: [{ requestId: waiting.requestId }] });
    expect(withWaiting.outcomes).toEqual([
      expect.objectContaining({
        requestId: failed.requestId,
        status: 'FAILED',
        error: expect.objectContaining({ code: 'Preflight.NotInGroup' }),
      }),
    ]);
    expect(JSON.stringify(withWaiting)).not.toMatch(/token/i);

    await Promise.all([ended(running.requestId), ended(waiting.requestId)]);
    const shown = await cli('group-cli.ts', 'aliyun', 'cn-hangzhou', group.scalingGroupId, ...url);
    const json = await cli('group-cli.ts', 'aliyun', 'cn-hangzhou', group.scalingGroupId, '--json', ...url);

    expect(shown.code).toBe(0);
    expect(shown.stdout).toContain(`group     aliyun cn-hangzhou ${group.scalingGroupId}\nlease     free`);
    expect(shown.stdout).toContain('activity  none');
    expect(shown.stdout).toMatch(new RegExp(` ${waiting.requestId} SUCCEEDED\\n`));
    expect(shown.stdout).toMatch(new RegExp(` ${running.requestId} SUCCEEDED\\n`));
    expect(shown.stdout).toMatch(new RegExp(` ${failed.requestId} FAILED Preflight.NotInGroup: `));
    expect(json.code).toBe(0);
    expect((JSON.parse(json.stdout) as { outcomes: unknown[] }).outcomes).toHaveLength(3);
  });

  it.concurrent('shows an open intent with its calls and the cloud last answer, without its token', async () => {
    const group = await aScalingGroup(admin);
    // No answer to the call (a 5xx): the intent stays, to be repeated with the same token.
    await admin.inject({
      action: 'DetachInstances',
      scalingGroupId: group.scalingGroupId,
      error: { code: 'ServiceUnavailable', httpStatus: 503, message: 'The service is unavailable.' },
      times: 2,
    });
    const request = aDetachRequest(group);
    expect((await webhook.post('detach-instances', request)).status).toBe(202);

    const view = await groupViewWhen(
      `/v1/groups/aliyun/cn-hangzhou/${group.scalingGroupId}`,
      (body) => (body.intent as { lastAnswer?: unknown } | undefined)?.lastAnswer !== undefined,
    );

    expect(view.intent).toMatchObject({
      action: 'detach-instances',
      requestIds: [request.requestId],
      instanceIds: request.instanceIds,
      lastAnswer: { code: 'ServiceUnavailable', kind: 'transient' },
    });
    expect((view.intent as { calls: number }).calls).toBeGreaterThanOrEqual(1);
    expect(JSON.stringify(view)).not.toMatch(/token/i);
    await ended(request.requestId);
  });

  it.concurrent('a group the ledger holds nothing of is 404 (exit 1), so is a malformed one; unsigned is 401', async () => {
    const unknown = await signedGet('/v1/groups/aliyun/cn-hangzhou/asg-nothing-here');
    const malformed = await signedGet('/v1/groups/aliyun/cn-hangzhou/asg%23x');
    const badEscape = await signedGet('/v1/groups/aliyun/cn-hangzhou/%ZZ');
    const unsigned = await request(`${stack.endpoints.http}/v1/groups/aliyun/cn-hangzhou/asg-1`);
    const byCli = await cli('group-cli.ts', 'aliyun', 'cn-hangzhou', 'asg-nothing-here', ...url);

    expect(unknown).toEqual({
      status: 404,
      body: { error: { code: 'NotFound', message: 'The ledger holds nothing of this group.' } },
    });
    expect(malformed.status).toBe(404);
    expect(badEscape.status).toBe(404);
    expect(unsigned.statusCode).toBe(401);
    await unsigned.body.dump();
    expect(byCli.code).toBe(1);
    oneLine(byCli.stderr);
  });
});

describe('npm run smoke', () => {
  it.concurrent('sends a signed dry run through the webhook and follows it to its DryRun event', async () => {
    const group = await aScalingGroup(admin);

    const { code, stdout } = await cli(
      'smoke.ts',
      '--group',
      group.scalingGroupId,
      '--instance',
      group.instanceIds[0] as string,
      ...url,
    );

    expect(code).toBe(0);
    expect(stdout).toMatch(/accepted smoke-\d{14}-[0-9a-f]{6} \(dry run on aliyun cn-hangzhou asg-/);
    expect(stdout).toContain('DRY_RUN');
    expect(stdout).toMatch(/smoke test passed: the DryRun event [0-9a-f-]+ was published/);
    expect((await admin.state()).aliyun.instances.some((i) => i.instanceId === group.instanceIds[0])).toBe(
      true,
    );
  });

  it.concurrent('a smoke test whose plan the preflight refuses (no such group) exits 1 and says why', async () => {
    const { code, stdout } = await cli(
      'smoke.ts',
      '--group',
      'asg-nowhere',
      '--instance',
      'i-nowhere',
      ...url,
    );

    expect(code).toBe(1);
    expect(stdout).toMatch(/DRY_RUN Preflight\.GroupNotFound: /);
    expect(stdout).toContain(
      "smoke test failed: the dry run's preflight refused it (Preflight.GroupNotFound: ",
    );
  });
});

describe('the CLIs', () => {
  it.concurrent.each([
    ['send.ts'],
    ['detach-cli.ts'],
    ['invoke.ts'],
    ['status-cli.ts'],
    ['group-cli.ts'],
    ['smoke.ts'],
    ['setup-parameters.ts'],
    ['start.ts'],
    ['serverless-stage.ts', 'package'],
  ])('%s --help prints its usage and exits 0', async (script, ...before) => {
    const { code, stdout, stderr } = await cli(script, ...before, '--help');

    expect(code).toBe(0);
    expect(stdout).toMatch(/^usage: npm (run|start)/);
    expect(stderr).toBe('');
  });

  it.concurrent('invoke refuses an unknown function with the list: one line, exit 2', async () => {
    const { code, stderr } = await cli('invoke.ts', 'detachInstance', 'events/detach-instances.sqs.json');

    expect(code).toBe(2);
    oneLine(stderr);
    expect(stderr).toContain(
      'unknown function "detachInstance": one of detachInstances, removeInstances, detachVServerGroups, detachAlbServerGroups, webhook, pollActivities, recordDelivery',
    );
  });

  it.concurrent('invoke follows the request its event carries to the completion event, like send', async () => {
    const group = await aScalingGroup(admin);
    const request = aDetachRequest(group);
    const eventFile = join(dir, `${request.requestId}.sqs.json`);
    writeFileSync(
      eventFile,
      JSON.stringify({
        Records: [
          {
            messageId: request.requestId,
            receiptHandle: 'local',
            body: JSON.stringify(request),
            attributes: {
              MessageGroupId: `aliyun#cn-hangzhou#${group.scalingGroupId}`,
              ApproximateReceiveCount: '1',
            },
            messageAttributes: {},
            md5OfBody: '',
            eventSource: 'aws:sqs',
            eventSourceARN: 'arn:aws:sqs:eu-west-1:000000000000:scaling-detach-local-detach-instances.fifo',
            awsRegion: 'eu-west-1',
          },
        ],
      }),
    );

    const { code, stdout } = await cli('invoke.ts', 'detachInstances', eventFile);

    expect(code).toBe(0);
    expect(stdout).toContain(`following ${request.requestId}`);
    expect(stdout).toMatch(/SUCCEEDED activity asa-/);
    expect(stdout).toContain('"status": "Succeeded"');
  });

  it.concurrent('send prints a failed request with its code and message on the status line', async () => {
    const group = await aScalingGroup(admin);
    const request = aDetachRequest(group, { instanceIds: ['i-not-there'] });

    const { code, stdout } = await cli('send.ts', 'detach-instances', JSON.stringify(request));

    expect(code).toBe(1);
    expect(stdout).toMatch(/^\S+ FAILED Preflight\.NotInGroup: .+$/m);
  });
});

describe('the local HTTP API answers like API Gateway', () => {
  it.concurrent('a path with a malformed escape reaches the function and is 404, not 500', async () => {
    const { status, body } = await signedGet('/v1/operations/%ZZ');

    expect(status).toBe(404);
    expect(body).toEqual({ error: { code: 'NotFound', message: 'No such operation.' } });
  });

  it.concurrent('a body over the invoke limit (6 MB) is 413, not 500', async () => {
    const response = await request(`${stack.endpoints.http}/v1/detach-instances`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: Buffer.alloc(6 * 1024 * 1024 + 1, 0x20),
    });

    expect(response.statusCode).toBe(413);
    expect(await response.body.json()).toEqual({ message: 'Request Entity Too Large' });
  });
});
