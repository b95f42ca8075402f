import * as sts from 'tencentcloud-sdk-nodejs/tencentcloud/services/sts/index.js';
import { afterEach, describe, expect, it } from 'vitest';
import { tencentTc3Signature, tencentV1Signature } from '../../../emulator/signatures.ts';
import { captureServer } from '../../../test/support/capture-server.ts';
import { scriptedServer } from '../../../test/support/scripted-server.ts';
import { DetachError } from '../../errors.ts';
import { createHttpAgent } from '../http.ts';
import { TencentAsClient } from './as-client.ts';
import { TencentStsClient } from './sts-client.ts';
import { TencentV2Client } from './v2-client.ts';

const KEY = { secretId: 'AKIDprincipal', secretKey: 'principal-secret' };
const TEMPORARY = { secretId: 'AKIDtemporary', secretKey: 'temporary-secret', token: 'tc-token-1' };
const ROLE = 'qcs::cam::uin/100012345678:roleName/scaling-detach';
const httpAgent = createHttpAgent();
const servers: { close: () => Promise<void> }[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((server) => server.close()));
});
async function serve(...answers: Parameters<typeof scriptedServer>[0]) {
  const server = await scriptedServer(answers);
  servers.push(server);
  return server;
}
const ASSUMED = {
  Response: {
    Credentials: {
      Token: TEMPORARY.token,
      TmpSecretId: TEMPORARY.secretId,
      TmpSecretKey: TEMPORARY.secretKey,
    },
    ExpiredTime: 1_796_000_000,
    Expiration: '2026-11-29T07:33:20Z',
    RequestId: 'r',
  },
};

describe('TencentStsClient.assumeRole', () => {
  it('sends AssumeRole as tencentcloud-sdk-nodejs sts v20180813 does: same body and headers, TC3 for the sts service', async () => {
    const capture = await captureServer(JSON.stringify(ASSUMED));
    servers.push(capture);
    const sdk = new sts.sts.v20180813.Client({
      credential: KEY,
      region: 'ap-guangzhou',
      profile: {
        httpProfile: { endpoint: capture.host, protocol: 'http://', reqMethod: 'POST', reqTimeout: 5 },
      },
    });
    const request = {
      RoleArn: ROLE,
      RoleSessionName: 'scaling-detach-shop',
      DurationSeconds: 900,
      ExternalId: 'ext-4f1c2b',
    };
    const answered = await sdk.AssumeRole(request);
    expect(answered.Credentials?.TmpSecretId).toBe(TEMPORARY.secretId);
    const fromSdk = capture.captured[0];
    if (!fromSdk) throw new Error('the SDK sent nothing');

    const ours = new TencentStsClient({
      credentials: async () => KEY,
      httpAgent,
      endpointOverride: `http://${capture.host}/`,
      now: () => new Date(Number(fromSdk.headers['x-tc-timestamp']) * 1000),
    });
    const assumed = await ours.assumeRole({
      roleArn: ROLE,
      roleSessionName: 'scaling-detach-shop',
      durationSeconds: 900,
      externalId: 'ext-4f1c2b',
      region: 'ap-guangzhou',
    });
    const mine = capture.captured[1];
    expect(assumed).toEqual({ ...TEMPORARY, expiresAt: new Date(1_796_000_000 * 1000) });
    expect(JSON.parse(mine?.body ?? '')).toEqual(JSON.parse(fromSdk.body));
    expect(mine?.headers['x-tc-action']).toBe('AssumeRole');
    expect(mine?.headers['x-tc-version']).toBe('2018-08-13');
    expect(mine?.headers['x-tc-region']).toBe('ap-guangzhou');
    expect(mine?.body).toBe(fromSdk.body);
    // Against a local endpoint the SDK takes its service from the host's first label ("127"); ours always signs
    // for `sts`. Both verify with the emulator's own TC3 verifier over the same body, headers and time.
    // (and signs the host without its port: docs/reference/tencent-as.md §B8).
    const verify = (sent: typeof fromSdk, service: string, host = sent.headers.host ?? '') =>
      tencentTc3Signature({
        method: 'POST',
        query: '',
        headers: { 'content-type': sent.headers['content-type'] ?? '', host },
        body: sent.body,
        timestamp: Number(sent.headers['x-tc-timestamp']),
        service,
        secretKey: KEY.secretKey,
      });
    expect(fromSdk.headers.authorization).toContain(
      `/127/tc3_request, SignedHeaders=content-type;host, Signature=${verify(fromSdk, '127', '127.0.0.1')}`,
    );
    expect(mine?.headers.authorization).toBe(
      `TC3-HMAC-SHA256 Credential=${KEY.secretId}/${new Date(Number(fromSdk.headers['x-tc-timestamp']) * 1000).toISOString().slice(0, 10)}/sts/tc3_request, SignedHeaders=content-type;host, Signature=${verify(mine as typeof fromSdk, 'sts')}`,
    );
  });

  it('a role that cannot be assumed is fatal with the cloud code', async () => {
    const server = await serve({
      status: 200,
      body: {
        Response: {
          Error: { Code: 'ResourceNotFound.RoleNotExist', Message: 'role not exist' },
          RequestId: 'r',
        },
      },
    });
    const client = new TencentStsClient({
      credentials: async () => KEY,
      httpAgent,
      endpointOverride: server.url,
    });
    const error = await client
      .assumeRole({ roleArn: ROLE, roleSessionName: 'sd-x', region: 'ap-guangzhou' })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DetachError);
    expect(error).toMatchObject({ code: 'ResourceNotFound.RoleNotExist', kind: 'fatal' });
  });
});

const TOKEN_FAILURE = {
  status: 200,
  body: {
    Response: { Error: { Code: 'AuthFailure.TokenFailure', Message: 'token expired' }, RequestId: 'r' },
  },
};
const GROUP = { status: 200, body: { Response: { AutoScalingGroupSet: [], RequestId: 'r' } } };

describe('Tencent clients with temporary credentials', () => {
  it('API 3.0 (TC3): X-TC-Token is sent, and the signature is the temporary key’s', async () => {
    const server = await serve(GROUP);
    const as = new TencentAsClient({
      credentials: async () => TEMPORARY,
      httpAgent,
      endpointOverride: server.url,
    });
    await as.describeGroup('ap-guangzhou', 'asg-1');
    const sent = server.captured[0];
    if (!sent) throw new Error('nothing sent');
    expect(sent.headers['x-tc-token']).toBe(TEMPORARY.token);
    expect(sent.headers.authorization).toContain(`Credential=${TEMPORARY.secretId}/`);
    const signature = tencentTc3Signature({
      method: 'POST',
      query: '',
      headers: { 'content-type': sent.headers['content-type'] ?? '', host: sent.headers.host ?? '' },
      body: sent.body,
      timestamp: Number(sent.headers['x-tc-timestamp']),
      service: 'as',
      secretKey: TEMPORARY.secretKey,
    });
    expect(sent.headers.authorization).toContain(`Signature=${signature}`);
  });

  it('API 3.0: AuthFailure.TokenFailure drops the credentials and repeats the call once with fresh ones', async () => {
    const server = await serve(TOKEN_FAILURE, GROUP);
    let current = TEMPORARY;
    const refused: string[] = [];
    const as = new TencentAsClient({
      credentials: async () => current,
      credentialsRefused: (used) => {
        refused.push(used.token ?? '');
        current = { ...TEMPORARY, token: 'tc-token-2' };
      },
      httpAgent,
      endpointOverride: server.url,
    });
    await as.describeGroup('ap-guangzhou', 'asg-1');
    expect(refused).toEqual(['tc-token-1']);
    expect(server.captured.map((request) => request.headers['x-tc-token'])).toEqual([
      'tc-token-1',
      'tc-token-2',
    ]);
  });

  it('API 3.0: refused again after the refresh, the error is throttled and flagged, after two calls', async () => {
    const server = await serve(TOKEN_FAILURE);
    const as = new TencentAsClient({
      credentials: async () => TEMPORARY,
      credentialsRefused: () => {},
      httpAgent,
      endpointOverride: server.url,
    });
    await expect(as.describeGroup('ap-guangzhou', 'asg-1')).rejects.toMatchObject({
      code: 'AuthFailure.TokenFailure',
      kind: 'throttled',
      refreshCredentials: true,
    });
    expect(server.captured).toHaveLength(2);
  });

  it('v2: Token is a signed parameter, and a TokenFailure codeDesc is refreshed once', async () => {
    const server = await serve(
      { status: 200, body: { code: 4100, codeDesc: 'AuthFailure.TokenFailure', message: 'token expired' } },
      {
        status: 200,
        body: { code: 0, message: '', codeDesc: 'Success', data: { totalCount: 0, scalingInstancesSet: [] } },
      },
    );
    let current = TEMPORARY;
    const v2 = new TencentV2Client({
      credentials: async () => current,
      credentialsRefused: () => {
        current = { ...TEMPORARY, token: 'tc-token-2' };
      },
      httpAgent,
      endpointOverride: server.url,
    });
    await expect(v2.instancesInGroup('ap-guangzhou', 'asg-1', ['ins-1'])).resolves.toEqual([]);
    const params = server.captured.map((request) => Object.fromEntries(new URLSearchParams(request.body)));
    expect(params.map((p) => p.Token)).toEqual(['tc-token-1', 'tc-token-2']);
    const last = params[1] as Record<string, string>;
    expect(last.Signature).toBe(
      tencentV1Signature('POST', '127.0.0.1', '/v2/index.php', last, TEMPORARY.secretKey),
    );
  });
});
