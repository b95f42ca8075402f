import { randomBytes } from 'node:crypto';
import * as tencentcloud from 'tencentcloud-sdk-nodejs/tencentcloud/services/as/index.js';
import type { EmulatorAdmin } from './emulator-admin.ts';

export const TENCENT_KEY = { secretId: 'AKIDemulatorTencentKey', secretKey: 'emulator-tencent-secret' };
/**
 * The default account's root key in the emulator's default seed: no policy, so it may call what the deployment's
 * key (which holds exactly docs/policies/) may not, such as v2 DescribeScalingActivity, which the service never calls.
 */
export const TENCENT_ROOT_KEY = {
  secretId: 'AKIDemulatorTencentRootKey',
  secretKey: 'emulator-tencent-root-secret',
};

const shortId = (prefix: string) => `${prefix}-${randomBytes(4).toString('hex')}`;

export interface TencentGroupOptions {
  region?: string;
  instances?: number;
  minSize?: number;
  enabled?: boolean;
  activityDurationMs?: number;
  activityOutcomes?: ('SUCCESSFUL' | 'PARTIALLY_SUCCESSFUL' | 'FAILED' | 'CANCELLED')[];
  creationTypes?: ('AUTO_CREATION' | 'MANUAL_ATTACHING')[];
}

/** A fresh Tencent auto scaling group of its own in the shared emulator. */
export async function aTencentGroup(admin: EmulatorAdmin, options: TencentGroupOptions = {}) {
  const scalingGroupId = shortId('asg');
  const region = options.region ?? 'ap-guangzhou';
  const instanceIds = Array.from({ length: options.instances ?? 3 }, () => shortId('ins'));
  await admin.add({
    tencent: {
      groups: [
        {
          autoScalingGroupId: scalingGroupId,
          region,
          minSize: options.minSize ?? 0,
          maxSize: 100,
          enabled: options.enabled ?? true,
          activityDurationMs: options.activityDurationMs ?? 300,
          activityOutcomes: options.activityOutcomes ?? [],
        },
      ],
      instances: instanceIds.map((instanceId, i) => ({
        instanceId,
        autoScalingGroupId: scalingGroupId,
        creationType: options.creationTypes?.[i] ?? 'AUTO_CREATION',
      })),
    },
  });
  return { scalingGroupId, region, instanceIds };
}

export const aTencentRequest = (
  group: { scalingGroupId: string; region: string; instanceIds: string[] },
  overrides: Record<string, unknown> = {},
) => ({
  requestId: shortId('req'),
  provider: 'tencent',
  region: group.region,
  scalingGroupId: group.scalingGroupId,
  instanceIds: group.instanceIds.slice(0, 1),
  ...overrides,
});

/** tencentcloud-sdk-nodejs pointed at the emulator (docs/reference/tencent-as.md §B8), POST TC3 unless told otherwise. */
export function tencentSdk(
  emulatorUrl: string,
  region = 'ap-guangzhou',
  key = TENCENT_KEY,
  options: { reqMethod?: 'POST' | 'GET'; signMethod?: 'TC3-HMAC-SHA256' | 'HmacSHA256' | 'HmacSHA1' } = {},
) {
  const { host } = new URL(emulatorUrl);
  return new tencentcloud.as.v20180419.Client({
    credential: key,
    region,
    profile: {
      ...(options.signMethod && { signMethod: options.signMethod }),
      httpProfile: {
        endpoint: host,
        protocol: 'http://',
        reqMethod: options.reqMethod ?? 'POST',
        reqTimeout: 5,
      },
    },
  });
}
