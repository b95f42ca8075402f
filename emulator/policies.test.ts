import { describe, expect, it } from 'vitest';
import { Accounts } from './accounts.ts';
import { decide, fillPlaceholders, PolicyDocument, resourceMatches, trusts } from './policies.ts';
import { EmulatorSeed } from './seed.ts';
import { loadSeed } from './server.ts';

const ram = (statements: unknown[]) => PolicyDocument.parse({ Version: '1', Statement: statements });
const cam = (statements: unknown[]) => PolicyDocument.parse({ version: '2.0', statement: statements });

describe('policy evaluation', () => {
  it('allows what a statement allows, with wildcards in actions (any case) and resources', () => {
    const policy = ram([
      { Effect: 'Allow', Action: 'ess:describe*', Resource: '*' },
      { Effect: 'Allow', Action: ['ess:DetachInstances'], Resource: ['acs:ess:*:1001:scalinggroup/*'] },
    ]);
    expect(decide([policy], 'ess:DescribeScalingGroups', 'acs:ess:cn-hangzhou:1001:scalinggroup/*')).toBe(
      'allow',
    );
    expect(decide([policy], 'ess:DetachInstances', 'acs:ess:cn-hangzhou:1001:scalinggroup/asg-1')).toBe(
      'allow',
    );
    expect(decide([policy], 'ess:DetachInstances', 'acs:ess:cn-hangzhou:1002:scalinggroup/asg-1')).toBe(
      'implicitDeny',
    );
    expect(decide([policy], 'ess:RemoveInstances', 'acs:ess:cn-hangzhou:1001:scalinggroup/asg-1')).toBe(
      'implicitDeny',
    );
  });

  it('lets an explicit Deny win over any Allow, in any of the documents', () => {
    const allow = ram([{ Effect: 'Allow', Action: 'ess:*', Resource: '*' }]);
    const deny = ram([{ Effect: 'Deny', Action: 'ess:Detach*', Resource: '*' }]);
    expect(decide([allow, deny], 'ess:DetachInstances', 'acs:ess:cn-hangzhou:1:scalinggroup/a')).toBe(
      'explicitDeny',
    );
    expect(decide([allow, deny], 'ess:RemoveInstances', 'acs:ess:cn-hangzhou:1:scalinggroup/a')).toBe(
      'allow',
    );
  });

  it('reads CAM documents (lower-case keys, name/ prefixes) and takes an empty CAM region for any', () => {
    const policy = cam([
      {
        effect: 'allow',
        action: ['name/as:DetachInstances'],
        resource: ['qcs::as::uin/100:autoscalinggroup/*'],
      },
    ]);
    expect(
      decide([policy], 'as:DetachInstances', 'qcs::as:ap-guangzhou:uin/100:autoscalinggroup/asg-1'),
    ).toBe('allow');
    expect(
      resourceMatches(
        'qcs::as::uin/100:autoscalinggroup/*',
        'qcs::as:ap-guangzhou:uin/101:autoscalinggroup/a',
      ),
    ).toBe(false);
  });

  it('trusts the principal’s account only with the external id its condition names', () => {
    const trust = ram([
      {
        Effect: 'Allow',
        Action: 'sts:AssumeRole',
        Principal: { RAM: ['acs:ram::1001:root'] },
        Condition: { StringEquals: { 'sts:ExternalId': 'ext-1' } },
      },
    ]);
    expect(trusts(trust, 'aliyun', '1001', { 'sts:ExternalId': 'ext-1' })).toBe(true);
    expect(trusts(trust, 'aliyun', '1001', { 'sts:ExternalId': 'ext-2' })).toBe(false);
    expect(trusts(trust, 'aliyun', '1001', {})).toBe(false);
    expect(trusts(trust, 'aliyun', '1002', { 'sts:ExternalId': 'ext-1' })).toBe(false);
    const camTrust = cam([
      {
        effect: 'allow',
        action: 'name/sts:AssumeRole',
        principal: { qcs: ['qcs::cam::uin/100:root'] },
        condition: { string_equal: { 'sts:external_id': 'ext-1' } },
      },
    ]);
    expect(trusts(camTrust, 'tencent', '100', { 'sts:external_id': 'ext-1' })).toBe(true);
  });
});

describe('placeholders', () => {
  it('fills them, a list expanding a string into one per value, and refuses one left unfilled', () => {
    expect(
      fillPlaceholders(
        { Resource: ['acs:ram::<member-account-id>:role/x'], Other: '<external-id>' },
        { '<member-account-id>': ['1', '2'], '<external-id>': 'e' },
      ),
    ).toEqual({ Resource: ['acs:ram::1:role/x', 'acs:ram::2:role/x'], Other: 'e' });
    expect(() => fillPlaceholders({ Resource: '<member-uin>' })).toThrow(/<member-uin> has no value/);
  });
});

describe('a seed’s policies', () => {
  it('are read when the world is built: a missing file or an unfilled placeholder is refused with its path', () => {
    const seed = (policies: unknown[]) =>
      EmulatorSeed.parse({ credentials: [{ accessKeyId: 'k', accessKeySecret: 's', policies }] });
    expect(() => new Accounts(seed([{ file: '../docs/policies/none.json' }]))).toThrow(
      /credentials\[0\]\.policies\[0\]: cannot read policy/,
    );
    expect(() => new Accounts(seed([{ file: '../docs/policies/aliyun-principal-policy.json' }]))).toThrow(
      /credentials\[0\]\.policies\[0\]: placeholder <member-account-id> has no value/,
    );
  });

  it('the default seed loads every document of docs/policies/ (the deployment’s keys and the member roles)', () => {
    const accounts = new Accounts(loadSeed());
    expect(accounts.roles.map((r) => r.roleArn)).toHaveLength(4);
    expect(
      accounts.stsDenial('aliyun', 'LTAI-emulator-key', 'acs:ram::1000000000000002:role/scaling-detach'),
    ).toBe(undefined);
    expect(
      accounts.stsDenial('aliyun', 'LTAI-emulator-key', 'acs:ram::1000000000000009:role/scaling-detach'),
    ).toContain('sts:AssumeRole');
  });
});
