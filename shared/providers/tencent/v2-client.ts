import { randomInt } from 'node:crypto';
import type { Agent } from 'undici';
import * as z from 'zod';
import { DetachError } from '../../errors.ts';
import { parseJsonOrUndefined, postForm } from '../http.ts';
import { type TencentCredentials, withCredentialsRefresh } from './as-client.ts';
import { tencentV2Error } from './tencent-errors.ts';
import { signV2 } from './v2-signer.ts';

const PATH = '/v2/index.php';

const V2Envelope = z.object({
  code: z.union([z.number(), z.string()]).transform(Number),
  message: z.string().default(''),
  codeDesc: z.string().default(''),
  data: z.unknown().optional(),
});
const InstancesData = z.object({
  totalCount: z.union([z.number(), z.string()]).transform(Number),
  scalingInstancesSet: z.array(z.looseObject({ instanceId: z.string() })),
});

/** `name.0 .. name.N-1`: v2 lists are 0-based. */
export const flattenV2List = (name: string, values: readonly string[]): Record<string, string> =>
  Object.fromEntries(values.map((value, index) => [`${name}.${index}`, value]));

/** Tencent AS legacy v2 (`scaling.api.qcloud.com/v2/index.php`), HmacSHA256 signature, form POST. */
export class TencentV2Client {
  constructor(
    private readonly options: {
      credentials: () => Promise<TencentCredentials>;
      httpAgent: Agent;
      /** Replaces https://scaling.api.qcloud.com (the local emulator). */
      endpointOverride?: string;
      now?: () => Date;
      /** As TencentAsClient's: refused temporary credentials are dropped and the call repeated once. */
      credentialsRefused?: (refused: TencentCredentials) => void;
    },
  ) {}

  /** Seed: tencent-as-v2-DetachInstance.md. Answers no activity id. */
  async detachInstance(
    region: string,
    scalingGroupId: string,
    instanceIds: readonly string[],
    keepInstance?: 0 | 1,
  ): Promise<void> {
    await this.call('DetachInstance', region, {
      scalingGroupId,
      ...flattenV2List('instanceIds', instanceIds),
      ...(keepInstance !== undefined && { keepInstance: String(keepInstance) }),
    });
  }

  /** Of these instances (at most 20 a call), the ones still in the group. */
  async instancesInGroup(
    region: string,
    scalingGroupId: string,
    instanceIds: readonly string[],
  ): Promise<string[]> {
    const data = await this.call('DescribeScalingInstance', region, {
      scalingGroupId,
      ...flattenV2List('instanceIds', instanceIds),
      limit: '100',
    });
    const parsed = InstancesData.safeParse(data);
    if (!parsed.success)
      throw new DetachError(
        'InvalidResponse',
        'DescribeScalingInstance returned an unexpected body',
        'transient',
      );
    return parsed.data.scalingInstancesSet.map((instance) => instance.instanceId);
  }

  call(action: string, region: string, operationParams: Record<string, string>): Promise<unknown> {
    return withCredentialsRefresh(this.options, (credentials) =>
      this.callWith(credentials, action, region, operationParams),
    );
  }

  private async callWith(
    credentials: TencentCredentials,
    action: string,
    region: string,
    operationParams: Record<string, string>,
  ): Promise<unknown> {
    const url = new URL(PATH, this.options.endpointOverride ?? 'https://scaling.api.qcloud.com/');
    const params: Record<string, string> = {
      Action: action,
      Region: region,
      Timestamp: String(Math.floor((this.options.now?.() ?? new Date()).getTime() / 1000)),
      Nonce: String(randomInt(1, 2 ** 31 - 1)),
      SecretId: credentials.secretId,
      SignatureMethod: 'HmacSHA256',
      ...(credentials.token && { Token: credentials.token }),
      ...operationParams,
    };
    // The v2 string to sign names the host without scheme or port.
    params.Signature = signV2('POST', url.hostname, PATH, params, credentials.secretKey);
    const response = await postForm(
      this.options.httpAgent,
      url.toString(),
      new URLSearchParams(params).toString(),
    );
    const envelope = V2Envelope.safeParse(parseJsonOrUndefined(response.text));
    if (!envelope.success) {
      throw new DetachError(
        'InvalidResponse',
        `Tencent v2 answered HTTP ${response.status} without a code`,
        'transient',
        {
          httpStatus: response.status,
        },
      );
    }
    const { code, codeDesc, message, data } = envelope.data;
    if (code !== 0) throw tencentV2Error(code, codeDesc, message);
    return data;
  }
}
