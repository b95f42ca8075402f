import { describe, expect, it } from 'vitest';
import { aliyunRpcSignature } from '../signatures.ts';
import { StsEmulator } from './sts-emulator.ts';

/** The STS emulator on an injected clock; AssumeRole over the wire, with the SDKs, is test/sts-emulator.int.test.ts. */
const PRINCIPAL = { id: 'LTAIprincipal', secret: 'principal-secret' };
const ROLE = 'acs:ram::1234567890123456:role/scaling-detach';

function setup() {
  let now = Date.now();
  const registered = new Map<string, string>();
  const sts = new StsEmulator(
    {
      secretOf: (id) => (id === PRINCIPAL.id ? PRINCIPAL.secret : undefined),
      register: (issued) => registered.set(issued.accessKeyId, issued.secret),
    },
    () => now,
  );
  sts.addRoles([{ cloud: 'aliyun', roleArn: ROLE, externalId: 'ext-1' }]);
  const assume = (extra: Record<string, string> = {}) => {
    const params: Record<string, string> = {
      Action: 'AssumeRole',
      Version: '2015-04-01',
      Format: 'JSON',
      AccessKeyId: PRINCIPAL.id,
      SignatureMethod: 'HMAC-SHA1',
      SignatureVersion: '1.0',
      SignatureNonce: crypto.randomUUID(),
      Timestamp: `${new Date().toISOString().slice(0, 19)}Z`,
      RoleArn: ROLE,
      RoleSessionName: 'sd-shop',
      ExternalId: 'ext-1',
      DurationSeconds: '900',
      ...extra,
    };
    params.Signature = aliyunRpcSignature('POST', params, PRINCIPAL.secret);
    return sts.handle({ method: 'POST', headers: {}, params, body: '' });
  };
  const call = (accessKeyId: string, token?: string) =>
    sts.gate({
      pathname: '/',
      headers: {},
      params: {
        Action: 'DescribeScalingGroups',
        AccessKeyId: accessKeyId,
        ...(token && { SecurityToken: token }),
      },
    });
  return { sts, registered, assume, call, advance: (ms: number) => (now += ms) };
}

type Issued = {
  Credentials: { AccessKeyId: string; AccessKeySecret: string; SecurityToken: string; Expiration: string };
};
const issuedBy = (answer: { body: unknown } | undefined): Issued => {
  if (!answer) throw new Error('not an STS call');
  return answer.body as Issued;
};

describe('StsEmulator', () => {
  it('issues credentials for a trusted role and registers the key with the cloud APIs', () => {
    const { assume, registered } = setup();
    const answer = assume();
    expect(answer?.status).toBe(200);
    const { Credentials } = issuedBy(answer);
    expect(Credentials.AccessKeyId).toMatch(/^STS\.NU/);
    expect(registered.get(Credentials.AccessKeyId)).toBe(Credentials.AccessKeySecret);
  });

  it('accepts a temporary key with its token until it ends, on its own clock, then answers InvalidSecurityToken.Expired', () => {
    const { assume, call, advance } = setup();
    const { Credentials } = issuedBy(assume());
    expect(call(Credentials.AccessKeyId, Credentials.SecurityToken)).toBeUndefined();
    advance(899_999);
    expect(call(Credentials.AccessKeyId, Credentials.SecurityToken)).toBeUndefined();
    advance(1);
    expect(call(Credentials.AccessKeyId, Credentials.SecurityToken)).toMatchObject({
      status: 400,
      body: { Code: 'InvalidSecurityToken.Expired' },
    });
  });

  it('refuses a missing token, another key’s token, and an unknown token on a long-lived key', () => {
    const { assume, call } = setup();
    const first = issuedBy(assume()).Credentials;
    const second = issuedBy(assume()).Credentials;
    expect(call(first.AccessKeyId)).toMatchObject({ body: { Code: 'MissingSecurityToken' } });
    expect(call(first.AccessKeyId, second.SecurityToken)).toMatchObject({
      body: { Code: 'InvalidSecurityToken.MismatchWithAccessKey' },
    });
    expect(call(PRINCIPAL.id, 'CAISmadeup')).toMatchObject({
      body: { Code: 'InvalidSecurityToken.Malformed' },
    });
    expect(call(PRINCIPAL.id)).toBeUndefined();
  });

  it('a shortened lifetime applies to what is issued from then on', () => {
    const { sts, assume, call, advance } = setup();
    sts.admin('POST', '/admin/sts/settings', JSON.stringify({ lifetimeSeconds: 2 }));
    const { Credentials } = issuedBy(assume());
    advance(2000);
    expect(call(Credentials.AccessKeyId, Credentials.SecurityToken)).toMatchObject({
      body: { Code: 'InvalidSecurityToken.Expired' },
    });
  });

  it('refuses with the cloud codes: wrong external id, unknown role, bad duration', () => {
    const { assume } = setup();
    expect(assume({ ExternalId: 'nope' })).toMatchObject({ status: 403, body: { Code: 'NoPermission' } });
    expect(assume({ RoleArn: 'acs:ram::1234567890123456:role/gone' })).toMatchObject({
      status: 404,
      body: { Code: 'EntityNotExist.Role' },
    });
    expect(assume({ DurationSeconds: '60' })).toMatchObject({
      status: 400,
      body: { Code: 'InvalidParameter.DurationSeconds' },
    });
  });

  it('lists what it issued without secrets or tokens, and forgets it on a reseed', () => {
    const { sts, assume } = setup();
    const { Credentials } = issuedBy(assume());
    const listed = JSON.stringify(sts.admin('GET', '/admin/sts', '').body);
    expect(listed).toContain(Credentials.AccessKeyId);
    expect(listed).not.toContain(Credentials.AccessKeySecret);
    expect(listed).not.toContain(Credentials.SecurityToken);
    expect(listed).not.toContain('ext-1');
    sts.forgetCredentials();
    expect(JSON.stringify(sts.admin('GET', '/admin/sts', '').body)).not.toContain(Credentials.AccessKeyId);
  });
});
