import { afterEach, describe, expect, it } from 'vitest';
import {
  aliyunAcs3Signature,
  aliyunRpcSignature,
  hashedPayload,
  parseAcs3Authorization,
} from '../../../emulator/signatures.ts';
import { scriptedServer } from '../../../test/support/scripted-server.ts';
import { DetachError } from '../../errors.ts';
import { createHttpAgent } from '../http.ts';
import { EssClient } from './ess-client.ts';
import { AliyunStsClient, aliyunStsEndpoint } from './sts-client.ts';

/**
 * The requests go to a real HTTP server on 127.0.0.1, and their signatures are checked with the emulator's own
 * verifier (emulator/signatures.ts, written from the signature documents, not from our signer).
 */
const KEY = { accessKeyId: 'LTAIprincipal', accessKeySecret: 'principal-secret' };
const TEMPORARY = {
  accessKeyId: 'STS.NUtemporary',
  accessKeySecret: 'temporary-secret',
  securityToken: 'CAIS-token-1',
};
const httpAgent = createHttpAgent();
const form = (body: string) => Object.fromEntries(new URLSearchParams(body));
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
  RequestId: '6894B13B-6D71-4EF5-88FA-F32781734A7F',
  AssumedRoleUser: {
    Arn: 'acs:ram::123456789012****:role/scaling-detach/scaling-detach-shop',
    AssumedRoleId: '34458433936495****:scaling-detach-shop',
  },
  Credentials: {
    AccessKeyId: TEMPORARY.accessKeyId,
    AccessKeySecret: TEMPORARY.accessKeySecret,
    SecurityToken: TEMPORARY.securityToken,
    Expiration: '2026-12-03T12:00:00Z',
  },
};

describe('AliyunStsClient.assumeRole', () => {
  it('sends AssumeRole 2015-04-01 signed (signature 1.0) and reads the temporary credentials', async () => {
    const server = await serve({ status: 200, body: ASSUMED });
    const sts = new AliyunStsClient({
      credentials: async () => KEY,
      httpAgent,
      endpointOverride: server.url,
    });

    const assumed = await sts.assumeRole({
      roleArn: 'acs:ram::1234567890123456:role/scaling-detach',
      roleSessionName: 'scaling-detach-shop',
      externalId: 'ext-4f1c2b',
      durationSeconds: 900,
    });

    expect(assumed).toEqual({ ...TEMPORARY, expiresAt: new Date('2026-12-03T12:00:00Z') });
    const params = form(server.captured[0]?.body ?? '');
    expect(params).toMatchObject({
      Action: 'AssumeRole',
      Version: '2015-04-01',
      Format: 'JSON',
      AccessKeyId: KEY.accessKeyId,
      RoleArn: 'acs:ram::1234567890123456:role/scaling-detach',
      RoleSessionName: 'scaling-detach-shop',
      ExternalId: 'ext-4f1c2b',
      DurationSeconds: '900',
      SignatureMethod: 'HMAC-SHA1',
      SignatureVersion: '1.0',
    });
    expect(params.Signature).toBe(aliyunRpcSignature('POST', params, KEY.accessKeySecret));
  });

  it('a role that cannot be assumed is fatal with the cloud code', async () => {
    const server = await serve({
      status: 404,
      body: {
        RequestId: 'r',
        HostId: 'sts.aliyuncs.com',
        Code: 'EntityNotExist.Role',
        Message: 'The specified Role not exists .',
      },
    });
    const sts = new AliyunStsClient({
      credentials: async () => KEY,
      httpAgent,
      endpointOverride: server.url,
    });
    const error = await sts
      .assumeRole({ roleArn: 'acs:ram::1:role/gone', roleSessionName: 'sd-x' })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DetachError);
    expect(error).toMatchObject({
      code: 'EntityNotExist.Role',
      kind: 'fatal',
      httpStatus: 404,
      refreshCredentials: false,
    });
  });

  it('a 200 without credentials is a transient InvalidResponse that quotes nothing of the body', async () => {
    const server = await serve({
      status: 200,
      body: { RequestId: 'r', Credentials: { AccessKeySecret: 'leak' } },
    });
    const sts = new AliyunStsClient({
      credentials: async () => KEY,
      httpAgent,
      endpointOverride: server.url,
    });
    const error = (await sts
      .assumeRole({ roleArn: 'acs:ram::1:role/x', roleSessionName: 'sd-x' })
      .catch((e: unknown) => e)) as DetachError;
    expect(error).toMatchObject({ code: 'InvalidResponse', kind: 'transient' });
    expect(error.message).not.toContain('leak');
  });

  it('uses the central endpoint, or the region one', () => {
    expect(aliyunStsEndpoint()).toBe('https://sts.aliyuncs.com/');
    expect(aliyunStsEndpoint('cn-shanghai')).toBe('https://sts.cn-shanghai.aliyuncs.com/');
  });
});

const DESCRIBED = { RequestId: 'r', ScalingActivities: { ScalingActivity: [] } };
const EXPIRED = {
  status: 400,
  body: {
    RequestId: 'r',
    HostId: 'ess.aliyuncs.com',
    Code: 'InvalidSecurityToken.Expired',
    Message: 'Specified SecurityToken is expired.',
  },
};

describe('EssClient with temporary credentials', () => {
  it('RPC: SecurityToken is a signed parameter', async () => {
    const server = await serve({ status: 200, body: DESCRIBED });
    const ess = new EssClient({
      credentials: async () => TEMPORARY,
      httpAgent,
      endpointOverride: server.url,
    });
    await ess.describeScalingActivities('cn-hangzhou', ['asa-1']);
    const params = form(server.captured[0]?.body ?? '');
    expect(params.SecurityToken).toBe(TEMPORARY.securityToken);
    expect(params.AccessKeyId).toBe(TEMPORARY.accessKeyId);
    expect(params.Signature).toBe(aliyunRpcSignature('POST', params, TEMPORARY.accessKeySecret));
  });

  it('V3: x-acs-security-token is a signed header', async () => {
    const server = await serve({ status: 200, body: DESCRIBED });
    const ess = new EssClient({
      credentials: async () => TEMPORARY,
      httpAgent,
      endpointOverride: server.url,
      signatureVersion: 'v3',
    });
    await ess.describeScalingActivities('cn-hangzhou', ['asa-1']);
    const sent = server.captured[0];
    if (!sent) throw new Error('nothing sent');
    expect(sent.headers['x-acs-security-token']).toBe(TEMPORARY.securityToken);
    const authorization = parseAcs3Authorization(sent.headers.authorization ?? '');
    expect(authorization?.accessKeyId).toBe(TEMPORARY.accessKeyId);
    expect(authorization?.signedHeaders).toContain('x-acs-security-token');
    const query = Object.fromEntries(new URL(sent.url, 'http://x').searchParams);
    const signature = aliyunAcs3Signature({
      method: 'POST',
      query,
      headers: Object.fromEntries(
        authorization?.signedHeaders.map((name) => [name, sent.headers[name] ?? '']) ?? [],
      ),
      hashedPayload: hashedPayload(''),
      secret: TEMPORARY.accessKeySecret,
    });
    expect(authorization?.signature).toBe(signature);
  });

  it('an expired token is dropped and the call repeated once with fresh credentials', async () => {
    const server = await serve(EXPIRED, { status: 200, body: DESCRIBED });
    let current = TEMPORARY;
    const refused: string[] = [];
    const ess = new EssClient({
      credentials: async () => current,
      credentialsRefused: (used) => {
        refused.push(used.securityToken ?? '');
        current = { ...TEMPORARY, accessKeyId: 'STS.NUfresh', securityToken: 'CAIS-token-2' };
      },
      httpAgent,
      endpointOverride: server.url,
    });
    await expect(ess.describeScalingActivities('cn-hangzhou', ['asa-1'])).resolves.toEqual([]);
    expect(refused).toEqual(['CAIS-token-1']);
    expect(server.captured.map((request) => form(request.body).SecurityToken)).toEqual([
      'CAIS-token-1',
      'CAIS-token-2',
    ]);
  });

  it('a token refused again after the refresh ends the call: throttled, flagged, not repeated a third time', async () => {
    const server = await serve(EXPIRED);
    const ess = new EssClient({
      credentials: async () => TEMPORARY,
      credentialsRefused: () => {},
      httpAgent,
      endpointOverride: server.url,
    });
    const error = await ess.describeScalingActivities('cn-hangzhou', ['asa-1']).catch((e: unknown) => e);
    expect(error).toMatchObject({
      code: 'InvalidSecurityToken.Expired',
      kind: 'throttled',
      refreshCredentials: true,
    });
    expect(server.captured).toHaveLength(2);
  });

  it('long-lived keys are never repeated on a token code', async () => {
    const server = await serve(EXPIRED);
    const ess = new EssClient({
      credentials: async () => KEY,
      credentialsRefused: () => {},
      httpAgent,
      endpointOverride: server.url,
    });
    await expect(ess.describeScalingActivities('cn-hangzhou', ['asa-1'])).rejects.toMatchObject({
      refreshCredentials: true,
    });
    expect(server.captured).toHaveLength(1);
  });
});
