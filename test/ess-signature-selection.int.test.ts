/**
 * ALIYUN_SIGNATURE_VERSION selects how the deployed functions sign ESS calls: the composition root the request
 * functions and the poller use is built with each setting, and its ESS provider takes a group's instance out and
 * follows the activity to its end against the emulator, which says how every call was signed.
 */
import { describe, expect, inject, it } from 'vitest';
import { composePoller } from '../shared/composition.ts';
import type { DetachInstancesRequest } from '../shared/contracts/index.ts';
import { aDetachRequest, aScalingGroup, EMULATOR_KEY, EmulatorAdmin } from '../support/emulator-admin.ts';

const emulatorUrl = inject('stack').endpoints.emulator;
const admin = new EmulatorAdmin(emulatorUrl);

const environment = (signatureVersion: string | undefined) => ({
  LEDGER_TABLE: 'operations',
  EVENT_BUS_NAME: 'bus',
  ALIYUN_ACCESS_KEY_ID: EMULATOR_KEY.accessKeyId,
  ALIYUN_ACCESS_KEY_SECRET: EMULATOR_KEY.accessKeySecret,
  ESS_ENDPOINT: emulatorUrl,
  ...(signatureVersion !== undefined && { ALIYUN_SIGNATURE_VERSION: signatureVersion }),
});

describe.each([
  ['v3', 'v3'],
  ['rpc', 'rpc'],
  // serverless.yml writes '' for a setting a stage leaves out; unset and '' mean the documented default.
  ['unset', 'rpc'],
  ['empty', 'rpc'],
] as const)('ALIYUN_SIGNATURE_VERSION %s', (setting, signedWith) => {
  it(`signs every ESS call ${signedWith} and carries a detach through to its end`, async () => {
    const value = setting === 'unset' ? undefined : setting === 'empty' ? '' : setting;
    const { config, providers } = composePoller(environment(value));
    const group = await aScalingGroup(admin, { instances: 2, activityDurationMs: 200 });
    const request = aDetachRequest(group) as DetachInstancesRequest;

    const submitted = await providers.aliyun.submit(
      { action: 'detach-instances', request },
      { clientToken: request.requestId },
    );
    let reports = await providers.aliyun.describeActivities(group.region, [submitted.activityId as string]);
    for (let i = 0; i < 50 && reports[0]?.phase === 'pending'; i++) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      reports = await providers.aliyun.describeActivities(group.region, [submitted.activityId as string]);
    }
    const calls = await admin.calls({ scalingGroupId: group.scalingGroupId });
    const describes = (await admin.calls({ action: 'DescribeScalingActivities' })).filter((c) =>
      Object.values(c.params).includes(submitted.activityId as string),
    );

    expect(config.ALIYUN_SIGNATURE_VERSION).toBe(signedWith);
    expect(reports).toEqual([expect.objectContaining({ phase: 'succeeded', statusCode: 'Successful' })]);
    expect(calls.filter((c) => c.action === 'DetachInstances')).toEqual([
      expect.objectContaining({ status: 200, signature: signedWith }),
    ]);
    expect(describes.length).toBeGreaterThan(0);
    expect(describes.every((c) => c.status === 200 && c.signature === signedWith)).toBe(true);
  });
});

describe('ALIYUN_SIGNATURE_VERSION of another value', () => {
  it('stops the function at cold start, naming the variable', () => {
    expect(() => composePoller(environment('v2'))).toThrow(/ALIYUN_SIGNATURE_VERSION/);
  });
});
