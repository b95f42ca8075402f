import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import { parseAcs3Authorization, parseTc3Authorization } from '../signatures.ts';
import { aliyunAssumeRole, isAliyunStsRequest } from './aliyun-sts.ts';
import { isTencentStsRequest, tencentAssumeRole } from './tencent-sts.ts';

export type Cloud = 'aliyun' | 'tencent';
type Headers = Record<string, string | string[] | undefined>;

/** A role in a member account that the emulator's STS lets a principal assume. */
export const StsRole = z.object({
  cloud: z.enum(['aliyun', 'tencent']),
  /** `acs:ram::<uid>:role/<name>` or `qcs::cam::uin/<uin>:roleName/<name>`. */
  roleArn: z.string().min(1),
  /** The trust policy's condition: AssumeRole must carry exactly this ExternalId. */
  externalId: z.string().optional(),
  /** The trust policy's principals: the access key ids (SecretIds) that may assume it; absent: any seed key. */
  principals: z.array(z.string()).optional(),
  /** The role's maximum session duration, seconds (Alibaba 3600 by default, Tencent 43200). */
  maxSessionDurationSeconds: z.number().int().positive().optional(),
});
export type StsRole = z.infer<typeof StsRole>;

const Settings = z.object({
  /** Every credential issued from now on lives this long, whatever DurationSeconds asked: expiry within a test. */
  lifetimeSeconds: z.number().positive().nullable().optional(),
});

/** Temporary credentials the emulator issued. */
export interface Issued {
  cloud: Cloud;
  accessKeyId: string;
  secret: string;
  token: string;
  roleArn: string;
  sessionName: string;
  expiresAt: number;
}

export interface StsAnswer {
  status: number;
  body: unknown;
}

/** What the STS handlers of both clouds share: the clock, the roles, the keys, and where credentials go. */
export interface StsContext {
  now: () => number;
  role: (cloud: Cloud, roleArn: string) => StsRole | undefined;
  /** The secret of a key the emulator knows (seed keys, and temporary ones). */
  secretOf: (accessKeyId: string) => string | undefined;
  /** The lifetime to give, in seconds: the asked (or default) one, unless a test shortened it. */
  lifetime: (askedSeconds: number) => number;
  issue: (credentials: Omit<Issued, 'accessKeyId' | 'secret' | 'token'>) => Issued;
  /** A token presented on the AssumeRole call itself (role chaining) must be valid like any other. */
  refusal: (cloud: Cloud, accessKeyId: string, token: string | undefined) => TokenRefusal | undefined;
  /** The caller's own policy: undefined when it grants sts:AssumeRole on the role, else a message naming it. */
  denial: (cloud: Cloud, accessKeyId: string, roleArn: string) => string | undefined;
  /** The role's trust: its principals, and the external id its condition asks for. */
  trusts: (role: StsRole, accessKeyId: string, externalId: string | undefined) => boolean;
}

export interface TokenRefusal {
  code: string;
  message: string;
  /** Alibaba's HTTP status; Tencent answers every error with HTTP 200. */
  httpStatus: number;
}

const header = (headers: Headers, name: string) => {
  const value = headers[name];
  return Array.isArray(value) ? value[0] : value;
};
const random = (bytes: number) => randomBytes(bytes).toString('base64url');

/**
 * The emulator's STS, both clouds: AssumeRole (Alibaba 2015-04-01 RPC, Tencent 2018-08-13 TC3), and the check that
 * every ESS / AS call made with temporary credentials carries their token, unexpired on the emulator's own clock
 * (which a test can move: POST /admin/sts/advance). Roles are registered through POST /admin/sts/roles.
 */
export class StsEmulator {
  readonly #roles = new Map<string, StsRole>();
  /** The seed's roles (replaced by a reseed); the admin API's, above, outlive it. */
  #seedRoles = new Map<string, StsRole>();
  readonly #issued = new Map<string, Issued>();
  readonly #byToken = new Map<string, Issued>();
  #offsetMs = 0;
  #lifetimeSeconds: number | undefined;

  constructor(
    private readonly keys: {
      /** The secret of a long-lived (seed) key. */
      secretOf: (accessKeyId: string) => string | undefined;
      /** Makes a temporary key known to the cloud APIs, whose own signature checks then accept it. */
      register: (issued: Issued) => void;
      /** The RAM / CAM check of the caller's sts:AssumeRole; absent: allowed. */
      denial?: (cloud: Cloud, accessKeyId: string, roleArn: string) => string | undefined;
      /** A seeded role's trust policy; undefined: the role's `principals` and `externalId` decide. */
      trusts?: (role: StsRole, accessKeyId: string, externalId: string | undefined) => boolean | undefined;
    },
    private readonly clock: () => number = Date.now,
  ) {}

  now = (): number => this.clock() + this.#offsetMs;

  addRoles(roles: readonly StsRole[]): void {
    for (const role of roles) this.#roles.set(`${role.cloud} ${role.roleArn}`, role);
  }

  /** The roles of the seed's member accounts, and its lifetime setting: a reseed replaces both. */
  seed(roles: readonly StsRole[], lifetimeSeconds: number | undefined): void {
    this.#seedRoles = new Map(roles.map((role) => [`${role.cloud} ${role.roleArn}`, role]));
    this.#lifetimeSeconds = lifetimeSeconds;
  }

  /** An AssumeRole call of either cloud, answered; undefined for any other request. */
  handle(request: {
    method: string;
    headers: Headers;
    params: Record<string, string>;
    body: string;
  }): StsAnswer | undefined {
    if (isAliyunStsRequest(request.headers, request.params))
      return aliyunAssumeRole(request, this.#context());
    if (isTencentStsRequest(request.headers)) return tencentAssumeRole(request, this.#context());
    return undefined;
  }

  /**
   * Whether a cloud call's temporary credentials are refused: its token missing, not theirs, or expired. Calls with
   * long-lived keys and no token pass untouched. Answers in the API's own error shape.
   */
  gate(request: {
    pathname: string;
    headers: Headers;
    params: Record<string, string>;
  }): StsAnswer | undefined {
    const { headers, params } = request;
    if (request.pathname === '/v2/index.php') {
      const refusal = this.refusal('tencent', params.SecretId ?? '', params.Token);
      // Legacy v2 answers its errors with HTTP 200 and a numeric code (4100: authentication failed).
      return (
        refusal && { status: 200, body: { code: 4100, codeDesc: refusal.code, message: refusal.message } }
      );
    }
    const tc3 = header(headers, 'x-tc-action') !== undefined;
    if (tc3 || (params.SecretId !== undefined && params.AccessKeyId === undefined)) {
      const secretId = tc3
        ? (parseTc3Authorization(header(headers, 'authorization') ?? '')?.secretId ?? '')
        : (params.SecretId ?? '');
      const refusal = this.refusal('tencent', secretId, tc3 ? header(headers, 'x-tc-token') : params.Token);
      return (
        refusal && {
          status: 200,
          body: {
            Response: {
              Error: { Code: refusal.code, Message: refusal.message },
              RequestId: crypto.randomUUID(),
            },
          },
        }
      );
    }
    const acs3 = parseAcs3Authorization(header(headers, 'authorization') ?? '');
    const accessKeyId = acs3?.accessKeyId ?? params.AccessKeyId ?? '';
    const refusal = this.refusal(
      'aliyun',
      accessKeyId,
      acs3 ? header(headers, 'x-acs-security-token') : params.SecurityToken,
    );
    return (
      refusal && {
        status: refusal.httpStatus,
        body: {
          RequestId: crypto.randomUUID().toUpperCase(),
          HostId: 'ess.aliyuncs.com',
          Code: refusal.code,
          Message: refusal.message,
        },
      }
    );
  }

  refusal(cloud: Cloud, accessKeyId: string, token: string | undefined): TokenRefusal | undefined {
    const issued = this.#issued.get(accessKeyId);
    if (!issued) {
      if (token === undefined || token === '') return undefined;
      // A token with a long-lived key: one of ours issued to another key, or none of ours.
      return this.#byToken.has(token) ? mismatch(cloud) : malformed(cloud);
    }
    if (token === undefined || token === '') return missing(cloud);
    if (token !== issued.token) return mismatch(cloud);
    if (this.now() >= issued.expiresAt) return expired(cloud);
    return undefined;
  }

  /** Forgets the credentials issued (the cloud APIs forgot their keys on a reseed); roles stay. */
  forgetCredentials(): void {
    this.#issued.clear();
    this.#byToken.clear();
  }

  /** `/admin/sts...`: roles, settings, the clock, and what was issued (never secrets or tokens). */
  admin(method: string, path: string, body: string): StsAnswer {
    const json = parseJson(body);
    switch (`${method} ${path}`) {
      case 'GET /admin/sts':
        return {
          status: 200,
          body: {
            now: new Date(this.now()).toISOString(),
            lifetimeSeconds: this.#lifetimeSeconds ?? null,
            roles: [...this.#seedRoles.values(), ...this.#roles.values()].map(
              ({ externalId: _hidden, ...role }) => role,
            ),
            credentials: [...this.#issued.values()].map((issued) => ({
              cloud: issued.cloud,
              accessKeyId: issued.accessKeyId,
              roleArn: issued.roleArn,
              sessionName: issued.sessionName,
              expiresAt: new Date(issued.expiresAt).toISOString(),
              expired: this.now() >= issued.expiresAt,
            })),
          },
        };
      case 'POST /admin/sts/roles': {
        const roles = z.array(StsRole).safeParse(json);
        if (!roles.success)
          return { status: 400, body: { error: 'invalid roles', issues: roles.error.issues } };
        this.addRoles(roles.data);
        return { status: 200, body: { ok: true, roles: this.#roles.size } };
      }
      case 'POST /admin/sts/settings': {
        const settings = Settings.safeParse(json);
        if (!settings.success)
          return { status: 400, body: { error: 'invalid settings', issues: settings.error.issues } };
        if (settings.data.lifetimeSeconds !== undefined)
          this.#lifetimeSeconds = settings.data.lifetimeSeconds ?? undefined;
        return { status: 200, body: { ok: true, lifetimeSeconds: this.#lifetimeSeconds ?? null } };
      }
      case 'POST /admin/sts/advance': {
        const advance = z.object({ seconds: z.number().nonnegative() }).safeParse(json);
        if (!advance.success)
          return { status: 400, body: { error: 'invalid advance', issues: advance.error.issues } };
        this.#offsetMs += advance.data.seconds * 1000;
        return { status: 200, body: { ok: true, now: new Date(this.now()).toISOString() } };
      }
      case 'DELETE /admin/sts':
        this.#roles.clear();
        this.forgetCredentials();
        this.#offsetMs = 0;
        this.#lifetimeSeconds = undefined;
        return { status: 200, body: { ok: true } };
      default:
        return { status: 404, body: { error: `No admin route ${method} ${path}` } };
    }
  }

  #context(): StsContext {
    return {
      now: this.now,
      role: (cloud, roleArn) =>
        this.#roles.get(`${cloud} ${roleArn}`) ?? this.#seedRoles.get(`${cloud} ${roleArn}`),
      secretOf: (accessKeyId) => this.#issued.get(accessKeyId)?.secret ?? this.keys.secretOf(accessKeyId),
      lifetime: (askedSeconds) => this.#lifetimeSeconds ?? askedSeconds,
      issue: (credentials) => {
        const issued: Issued = {
          ...credentials,
          // The clouds' shapes: Alibaba's temporary key ids start STS., Tencent's are AKID ones.
          accessKeyId: credentials.cloud === 'aliyun' ? `STS.NU${random(18)}` : `AKID${random(27)}`,
          secret: random(30),
          token: credentials.cloud === 'aliyun' ? `CAIS${random(90)}` : random(120),
        };
        this.#issued.set(issued.accessKeyId, issued);
        this.#byToken.set(issued.token, issued);
        this.keys.register(issued);
        return issued;
      },
      refusal: (cloud, accessKeyId, token) => this.refusal(cloud, accessKeyId, token),
      denial: (cloud, accessKeyId, roleArn) => this.keys.denial?.(cloud, accessKeyId, roleArn),
      trusts: (role, accessKeyId, externalId) =>
        this.keys.trusts?.(role, accessKeyId, externalId) ??
        ((role.principals === undefined || role.principals.includes(accessKeyId)) &&
          (role.externalId === undefined || role.externalId === externalId)),
    };
  }
}

const TENCENT_TOKEN_FAILURE = 'AuthFailure.TokenFailure';
const missing = (cloud: Cloud): TokenRefusal =>
  cloud === 'aliyun'
    ? {
        code: 'MissingSecurityToken',
        message: 'SecurityToken is mandatory for this action.',
        httpStatus: 400,
      }
    : {
        code: TENCENT_TOKEN_FAILURE,
        message: 'The token is missing for temporary credentials.',
        httpStatus: 200,
      };
const mismatch = (cloud: Cloud): TokenRefusal =>
  cloud === 'aliyun'
    ? {
        code: 'InvalidSecurityToken.MismatchWithAccessKey',
        message: 'Specified SecurityToken mismatch with the AccessKey.',
        httpStatus: 400,
      }
    : {
        code: TENCENT_TOKEN_FAILURE,
        message: 'The token does not belong to this SecretId.',
        httpStatus: 200,
      };
const malformed = (cloud: Cloud): TokenRefusal =>
  cloud === 'aliyun'
    ? {
        code: 'InvalidSecurityToken.Malformed',
        message: 'Specified SecurityToken is malformed.',
        httpStatus: 400,
      }
    : { code: TENCENT_TOKEN_FAILURE, message: 'The token is invalid.', httpStatus: 200 };
const expired = (cloud: Cloud): TokenRefusal =>
  cloud === 'aliyun'
    ? {
        code: 'InvalidSecurityToken.Expired',
        message: 'Specified SecurityToken is expired.',
        httpStatus: 400,
      }
    : { code: TENCENT_TOKEN_FAILURE, message: 'The token has expired.', httpStatus: 200 };

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
