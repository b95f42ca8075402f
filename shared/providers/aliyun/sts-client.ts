import { randomUUID } from 'node:crypto';
import type { Agent } from 'undici';
import * as z from 'zod';
import { DetachError } from '../../errors.ts';
import { httpTarget, parseJsonOrUndefined, post } from '../http.ts';
import type { EssCredentials } from './ess-client.ts';
import { essError } from './ess-errors.ts';
import { canonicalQuery, percentEncode, rpcTimestamp, signRpcQuery } from './rpc-signer.ts';

/** Temporary credentials of an assumed RAM role: the three values every call then carries, and when they end. */
export interface AliyunAssumedCredentials {
  accessKeyId: string;
  accessKeySecret: string;
  securityToken: string;
  expiresAt: Date;
}

export interface AliyunAssumeRoleInput {
  /** `acs:ram::<uid>:role/<name>`. */
  roleArn: string;
  /** 2 to 64 characters of `[A-Za-z0-9.@_-]`: shows in the member account's ActionTrail as who acted. */
  roleSessionName: string;
  externalId?: string;
  /** 900 (the floor STS takes) to the role's maximum session duration; STS's default is 3600. */
  durationSeconds?: number;
  /** The STS region endpoint to use (`sts.<region>.aliyuncs.com`); absent: the central `sts.aliyuncs.com`. */
  stsRegion?: string;
}

export interface AliyunStsClientOptions {
  /** The deployment's own keys: the principal that assumes the member accounts' roles. */
  credentials: () => Promise<EssCredentials>;
  httpAgent: Agent;
  /** Replaces the STS endpoint (the local emulator). */
  endpointOverride?: string;
  now?: () => Date;
  nonce?: () => string;
}

const AssumeRoleResponse = z.object({
  RequestId: z.string().optional(),
  Credentials: z.object({
    AccessKeyId: z.string().min(1),
    AccessKeySecret: z.string().min(1),
    SecurityToken: z.string().min(1),
    Expiration: z.iso.datetime(),
  }),
});
const ErrorBody = z.object({
  Code: z.string(),
  Message: z.string().default(''),
  RequestId: z.string().optional(),
});

export const aliyunStsEndpoint = (region?: string): string =>
  region ? `https://sts.${region}.aliyuncs.com/` : 'https://sts.aliyuncs.com/';

/**
 * Alibaba Cloud STS `AssumeRole` (RPC, 2015-04-01), signed as ESS calls are (signature 1.0, HMAC-SHA1), POST form.
 * Errors go through the ESS table (the gateway's codes are common to both; the STS codes are in it): a role that
 * cannot be assumed (`EntityNotExist.Role`, `NoPermission`) is fatal with the cloud's code.
 */
export class AliyunStsClient {
  readonly #options: AliyunStsClientOptions;

  constructor(options: AliyunStsClientOptions) {
    this.#options = options;
  }

  async assumeRole(input: AliyunAssumeRoleInput): Promise<AliyunAssumedCredentials> {
    const credentials = await this.#options.credentials();
    const params: Record<string, string> = {
      Action: 'AssumeRole',
      Version: '2015-04-01',
      Format: 'JSON',
      AccessKeyId: credentials.accessKeyId,
      SignatureMethod: 'HMAC-SHA1',
      SignatureVersion: '1.0',
      SignatureNonce: this.#options.nonce?.() ?? randomUUID(),
      Timestamp: rpcTimestamp(this.#options.now?.() ?? new Date()),
      RoleArn: input.roleArn,
      RoleSessionName: input.roleSessionName,
    };
    if (credentials.securityToken) params.SecurityToken = credentials.securityToken;
    if (input.externalId !== undefined) params.ExternalId = input.externalId;
    if (input.durationSeconds !== undefined) params.DurationSeconds = String(input.durationSeconds);
    const query = canonicalQuery(params);
    const body = `${query}&Signature=${percentEncode(signRpcQuery('POST', query, credentials.accessKeySecret))}`;
    const endpoint = this.#options.endpointOverride ?? aliyunStsEndpoint(input.stsRegion);
    const response = await post(
      this.#options.httpAgent,
      httpTarget(endpoint),
      { 'content-type': 'application/x-www-form-urlencoded' },
      body,
    );
    const json = parseJsonOrUndefined(response.text);
    if (response.status < 200 || response.status >= 300) {
      const error = ErrorBody.safeParse(json);
      if (!error.success) {
        throw essError(
          response.status >= 500 ? 'ServiceUnavailable' : 'InvalidResponse',
          `STS answered HTTP ${response.status} without an error code`,
          response.status,
        );
      }
      throw essError(error.data.Code, error.data.Message, response.status, error.data.RequestId);
    }
    const parsed = AssumeRoleResponse.safeParse(json);
    if (!parsed.success) {
      // A 200 we cannot read is the cloud's fault, retried like a 5xx; the body may hold a secret, so it is not quoted.
      throw new DetachError('InvalidResponse', 'STS AssumeRole returned an unexpected body', 'transient');
    }
    const { AccessKeyId, AccessKeySecret, SecurityToken, Expiration } = parsed.data.Credentials;
    return {
      accessKeyId: AccessKeyId,
      accessKeySecret: AccessKeySecret,
      securityToken: SecurityToken,
      expiresAt: new Date(Expiration),
    };
  }
}
