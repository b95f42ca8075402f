import type { Agent } from 'undici';
import * as z from 'zod';
import { DetachError } from '../../errors.ts';
import { httpTarget, parseJsonOrUndefined, post } from '../http.ts';
import type { TencentCredentials } from './as-client.ts';
import { signTc3 } from './tc3-signer.ts';
import { tencentError } from './tencent-errors.ts';

/** Temporary credentials of an assumed CAM role, as the AS clients take them, and when they end. */
export interface TencentAssumedCredentials {
  secretId: string;
  secretKey: string;
  token: string;
  expiresAt: Date;
}

export interface TencentAssumeRoleInput {
  /** `qcs::cam::uin/<uin>:roleName/<name>`. */
  roleArn: string;
  /** 2 to 128 characters of `[\w+=,.@-]`: shows in the member account's CloudAudit as who acted. */
  roleSessionName: string;
  externalId?: string;
  /** STS's default is 7200, its maximum 43200 (or the role's own maximum). */
  durationSeconds?: number;
  /** X-TC-Region: STS wants one; any region the account uses. */
  region: string;
}

export interface TencentStsClientOptions {
  /** The deployment's own keys: the principal that assumes the member accounts' roles. */
  credentials: () => Promise<TencentCredentials>;
  httpAgent: Agent;
  /** Replaces https://sts.tencentcloudapi.com (the local emulator). */
  endpointOverride?: string;
  now?: () => Date;
}

const Envelope = z.object({
  Response: z.looseObject({
    RequestId: z.string().optional(),
    Error: z.object({ Code: z.string(), Message: z.string().default('') }).optional(),
  }),
});
const AssumeRoleResponse = z.object({
  Credentials: z.object({
    Token: z.string().min(1),
    TmpSecretId: z.string().min(1),
    TmpSecretKey: z.string().min(1),
  }),
  /** Unix seconds. */
  ExpiredTime: z.number().int().positive(),
  Expiration: z.string().optional(),
});

/** Tencent Cloud STS `AssumeRole` (2018-08-13), TC3-HMAC-SHA256 with service `sts`, JSON over POST. */
export class TencentStsClient {
  readonly #options: TencentStsClientOptions;

  constructor(options: TencentStsClientOptions) {
    this.#options = options;
  }

  async assumeRole(input: TencentAssumeRoleInput): Promise<TencentAssumedCredentials> {
    const credentials = await this.#options.credentials();
    const url = new URL(this.#options.endpointOverride ?? 'https://sts.tencentcloudapi.com/');
    const timestamp = Math.floor((this.#options.now?.() ?? new Date()).getTime() / 1000);
    const body = JSON.stringify({
      RoleArn: input.roleArn,
      RoleSessionName: input.roleSessionName,
      ...(input.durationSeconds !== undefined && { DurationSeconds: input.durationSeconds }),
      ...(input.externalId !== undefined && { ExternalId: input.externalId }),
    });
    const signed = signTc3({
      method: 'POST',
      headers: { 'content-type': 'application/json', host: url.host },
      body,
      timestamp,
      service: 'sts',
      secretId: credentials.secretId,
      secretKey: credentials.secretKey,
    });
    const headers: Record<string, string> = {
      'content-type': 'application/json',
      host: url.host,
      'x-tc-action': 'AssumeRole',
      'x-tc-version': '2018-08-13',
      'x-tc-timestamp': String(timestamp),
      'x-tc-region': input.region,
      authorization: signed.authorization,
    };
    if (credentials.token) headers['x-tc-token'] = credentials.token;
    const { status, text } = await post(this.#options.httpAgent, httpTarget(url), headers, body);
    const envelope = Envelope.safeParse(parseJsonOrUndefined(text));
    if (!envelope.success) {
      throw new DetachError(
        'InvalidResponse',
        `Tencent STS answered HTTP ${status} without a Response`,
        'transient',
        { httpStatus: status },
      );
    }
    const { Error: error, RequestId } = envelope.data.Response;
    if (error) throw tencentError(error.Code, error.Message, status, RequestId);
    if (status >= 300) {
      throw new DetachError(
        `HTTP${status}`,
        `Tencent STS answered HTTP ${status}`,
        status >= 500 ? 'transient' : 'fatal',
      );
    }
    const parsed = AssumeRoleResponse.safeParse(envelope.data.Response);
    if (!parsed.success) {
      // The body may hold a secret, so it is not quoted.
      throw new DetachError('InvalidResponse', 'STS AssumeRole returned an unexpected body', 'transient');
    }
    const { Credentials, ExpiredTime } = parsed.data;
    return {
      secretId: Credentials.TmpSecretId,
      secretKey: Credentials.TmpSecretKey,
      token: Credentials.Token,
      expiresAt: new Date(ExpiredTime * 1000),
    };
  }
}
