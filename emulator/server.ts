import { timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { pathToFileURL } from 'node:url';
import { z } from 'zod';
import { Accounts, type AccountWorld } from './accounts.ts';
import { Chaos, ChaosConfig } from './chaos.ts';
import { type EssApi, isAcs3Request, type RpcAnswer, type RpcRequest } from './ess/ess-api.ts';
import type { PolicyRef } from './policies.ts';
import { describeSeedError, EmulatorSeed, Fault, SeedAddition } from './seed.ts';
import { parseAcs3Authorization, parseTc3Authorization } from './signatures.ts';
import { StsEmulator } from './sts/sts-emulator.ts';
import {
  type Api3Answer,
  type Api3Request,
  isTencentApi3Request,
  TencentApi3,
  tencentError,
} from './tencent/tencent-api3.ts';
import { V2_PATH, type V2Answer } from './tencent/tencent-v2.ts';
import { toXml } from './xml.ts';

export const DEFAULT_SEED_PATH = new URL('./seed.default.json', import.meta.url);

/**
 * The header every /admin/* route but health wants, with the emulator's admin token. Without it the admin API
 * would be a door: locally, callbacks may go to loopback, and a callback whose URL is /admin/seed would wipe
 * the emulated clouds. A callback sender sets no such header.
 */
export const ADMIN_TOKEN_HEADER = 'x-emulator-admin-token';
/** The token when none is given (`--admin-token`, EMULATOR_ADMIN_TOKEN): a local tool's, never a secret. */
export const DEFAULT_ADMIN_TOKEN = 'local-emulator-admin-token';

/**
 * A seed file, parsed, with its policy files' relative paths made absolute (relative to the seed file) and read
 * once, so that a missing file or an unfilled placeholder stops it here with the path in the seed.
 */
export function loadSeed(path: string | URL = DEFAULT_SEED_PATH): EmulatorSeed {
  const seed = EmulatorSeed.parse(JSON.parse(readFileSync(path, 'utf8')));
  const base = path instanceof URL ? path : pathToFileURL(resolve(path));
  const absolute = (refs: PolicyRef[] | undefined) => {
    for (const ref of refs ?? []) if ('file' in ref) ref.file = new URL(ref.file, base).href;
  };
  for (const c of seed.credentials) absolute(c.policies);
  for (const account of seed.accounts) {
    for (const c of account.credentials) absolute(c.policies);
    for (const role of account.roles) absolute([...role.policies, role.trustPolicy]);
  }
  new Accounts(seed);
  return seed;
}

export interface CallRecord {
  action: string;
  at: string;
  status: number;
  code?: string;
  /** How the call was signed: ESS `rpc` or `v3`; Tencent `tc3`, `v1` (API 3.0's HmacSHA1/HmacSHA256) or `v2`. */
  signature: string;
  params: Record<string, string>;
}

const SECRET_PARAMS = new Set(['Signature', 'SecurityToken']);
const JSON_TYPE = 'application/json;charset=utf-8';

/** An answer as it goes on the wire. */
interface Wire {
  status: number;
  contentType: string;
  text: string;
  /** The error code, for the call log. */
  code?: string;
}

/** One cloud call, whichever API: what it is, how to answer it, and how each kind of fault looks in its API. */
interface CloudCall {
  action: string;
  scalingGroupId: string | undefined;
  logParams: Record<string, string>;
  signature: string;
  act: () => Wire;
  fault: (code: string, httpStatus: number, message: string) => Wire;
  throttled: () => Wire;
  serverError: () => Wire;
}

const headerValue = (headers: RpcRequest['headers'], name: string): string | undefined => {
  const value = headers?.[name];
  return Array.isArray(value) ? value[0] : value;
};

function essWire(answer: RpcAnswer): Wire {
  const code = typeof answer.body.Code === 'string' ? answer.body.Code : undefined;
  return answer.format === 'XML'
    ? {
        status: answer.status,
        contentType: 'text/xml;charset=utf-8',
        text: `<?xml version="1.0" encoding="UTF-8"?>${toXml(answer.rootName, answer.body)}`,
        ...(code && { code }),
      }
    : {
        status: answer.status,
        contentType: JSON_TYPE,
        text: JSON.stringify(answer.body),
        ...(code && { code }),
      };
}

/** The cloud emulator: the ESS RPC API on `/`, and an admin API on `/admin/*` for tests and people. */
export class CloudEmulator {
  /** The keys, accounts and roles of the seed; each account's world answers only its own credentials. */
  accounts: Accounts;
  readonly calls: CallRecord[] = [];
  faults: Fault[] = [];
  /** Random faults for reliability runs (`POST /admin/chaos`); outlives a reseed, ends with DELETE. */
  chaos: Chaos | undefined;
  /** STS of both clouds, and the token check of calls made with the temporary credentials it issued. */
  readonly sts = new StsEmulator({
    secretOf: (id) => this.accounts.worldOf(id).secrets.get(id),
    register: (issued) =>
      this.accounts.registerTemporary(issued.cloud, issued.accessKeyId, issued.secret, issued.roleArn),
    denial: (cloud, id, roleArn) => this.accounts.stsDenial(cloud, id, roleArn),
    trusts: (role, id, externalId) => this.accounts.trusts(role, id, externalId),
  });
  readonly #server: Server;
  readonly #adminToken: Buffer;

  constructor(seed: EmulatorSeed, options: { adminToken?: string; base?: URL } = {}) {
    this.#adminToken = Buffer.from(options.adminToken ?? DEFAULT_ADMIN_TOKEN);
    this.accounts = new Accounts(seed, options.base);
    this.sts.seed(this.accounts.roles, seed.sts?.lifetimeSeconds);
    this.#server = createServer((req, res) => {
      this.route(req, res).catch((error: unknown) => {
        res.writeHead(500, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ Code: 'InternalError', Message: String(error) }));
      });
    });
    this.#server.keepAliveTimeout = 60_000;
  }

  /** The default (deployment) account's ESS. */
  get ess(): EssApi {
    return this.accounts.default.ess;
  }

  /** The default (deployment) account's Tencent AS. */
  get tencent(): AccountWorld['tencent'] {
    return this.accounts.default.tencent;
  }

  async listen(port = 0, host = '127.0.0.1'): Promise<string> {
    await new Promise<void>((resolve) => this.#server.listen(port, host, resolve));
    return this.url;
  }

  get url(): string {
    const { address, port } = this.#server.address() as AddressInfo;
    return `http://${address}:${port}`;
  }

  async close(): Promise<void> {
    this.#server.closeAllConnections();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  /** Replaces the world; a seed whose policies cannot be read throws, and nothing changes. */
  reseed(seed: EmulatorSeed): void {
    const accounts = new Accounts(seed);
    this.accounts = accounts;
    this.faults = [];
    this.calls.length = 0;
    this.sts.forgetCredentials();
    this.sts.seed(accounts.roles, seed.sts?.lifetimeSeconds);
  }

  private async route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://emulator');
    const body = await readBody(req);
    const method = req.method ?? 'GET';
    if (url.pathname.startsWith('/admin/')) {
      if (url.pathname !== '/admin/health') {
        const token = req.headers[ADMIN_TOKEN_HEADER];
        if (typeof token !== 'string')
          return sendJson(res, 401, { error: `the admin API wants the ${ADMIN_TOKEN_HEADER} header` });
        if (!this.isAdminToken(token)) return sendJson(res, 403, { error: 'wrong admin token' });
      }
      if (url.pathname === '/admin/sts' || url.pathname.startsWith('/admin/sts/')) {
        const answer = this.sts.admin(method, url.pathname, body);
        return sendJson(res, answer.status, answer.body);
      }
      return this.admin(method, url.pathname, body, res);
    }
    const params = { ...Object.fromEntries(url.searchParams) };
    const form = String(req.headers['content-type'] ?? '').includes('application/x-www-form-urlencoded');
    if (method === 'POST' && form) Object.assign(params, Object.fromEntries(new URLSearchParams(body)));
    const sts =
      this.sts.handle({ method, headers: req.headers, params, body }) ??
      this.sts.gate({ pathname: url.pathname, headers: req.headers, params });
    if (sts) return sendJson(res, sts.status, sts.body);
    const host = String(req.headers.host ?? '');
    if (url.pathname === V2_PATH)
      return this.serve(
        this.tencentV2Call(this.accounts.worldOf(params.SecretId), method, host, params),
        res,
      );
    if (url.pathname === '/' && isTencentApi3Request({ headers: req.headers, params })) {
      const rawQuery = (req.url ?? '').includes('?')
        ? (req.url ?? '').slice((req.url ?? '').indexOf('?') + 1)
        : '';
      const secretId = req.headers['x-tc-action']
        ? parseTc3Authorization(String(req.headers.authorization ?? ''))?.secretId
        : params.SecretId;
      return this.serve(
        this.tencentApi3Call(this.accounts.worldOf(secretId), {
          method,
          headers: req.headers,
          body,
          rawQuery,
          params,
        }),
        res,
      );
    }
    if (url.pathname === '/' && (method === 'GET' || method === 'POST')) {
      const query = Object.fromEntries(url.searchParams);
      const accessKeyId = isAcs3Request(req.headers, params)
        ? parseAcs3Authorization(String(req.headers.authorization ?? ''))?.accessKeyId
        : params.AccessKeyId;
      return this.serve(
        this.essCall(this.accounts.worldOf(accessKeyId), {
          method,
          params,
          query,
          headers: req.headers,
          body,
        }),
        res,
      );
    }
    if (req.headers['x-tc-action']) {
      const { status, body: answer } = tencentError('InvalidParameter', `No route ${method} ${url.pathname}`);
      return sendJson(res, status, answer);
    }
    sendJson(res, 404, { Code: 'NotFound', Message: `No route ${method} ${url.pathname}` });
  }

  /** One cloud call through the explicit faults, then chaos, then the API; recorded without its secrets. */
  private async serve(call: CloudCall, res: ServerResponse): Promise<void> {
    const fault = this.takeFault(call.action, call.scalingGroupId);
    // An explicit fault wins; chaos draws only for calls no fault matched.
    const chaos = fault ? undefined : this.chaos?.draw(call.action);
    if (fault?.latencyMs) await sleep(fault.latencyMs);
    if (chaos === 'slow') await sleep(this.chaos?.config.slowMs ?? 0);
    if (fault?.drop === 'before' || chaos === 'dropBefore') return void res.socket?.destroy();
    const answer = fault?.error
      ? call.fault(fault.error.code, fault.error.httpStatus, fault.error.message ?? fault.error.code)
      : chaos === 'throttle'
        ? call.throttled()
        : chaos === 'serverError'
          ? call.serverError()
          : call.act();
    this.calls.push({
      action: call.action,
      at: new Date().toISOString(),
      status: answer.status,
      ...(answer.code && { code: answer.code }),
      signature: call.signature,
      params: call.logParams,
    });
    if (fault?.drop === 'after' || chaos === 'dropAfter') return void res.socket?.destroy();
    res.writeHead(answer.status, { 'content-type': answer.contentType });
    res.end(answer.text);
  }

  private essCall(world: AccountWorld, request: RpcRequest): CloudCall {
    const { params } = request;
    const v3 = isAcs3Request(request.headers, params);
    const action = (v3 ? headerValue(request.headers, 'x-acs-action') : params.Action) ?? 'Unknown';
    const xml = params.Format?.toUpperCase() === 'XML';
    const error = (status: number, code: string, message: string): RpcAnswer => ({
      status,
      format: xml ? 'XML' : 'JSON',
      rootName: 'Error',
      body: { RequestId: crypto.randomUUID(), HostId: 'ess.aliyuncs.com', Code: code, Message: message },
    });
    return {
      action,
      scalingGroupId: params.ScalingGroupId,
      logParams: {
        ...Object.fromEntries(Object.entries(params).filter(([key]) => !SECRET_PARAMS.has(key))),
        ...(v3 && { Action: action }),
        ...(v3 && { Version: headerValue(request.headers, 'x-acs-version') ?? '' }),
      },
      signature: v3 ? 'v3' : 'rpc',
      act: () => essWire(world.ess.handle(request)),
      fault: (code, status, message) => essWire(error(status, code, message)),
      throttled: () => essWire(error(400, 'Throttling.User', 'Request was denied due to user flow control.')),
      serverError: () =>
        essWire(
          error(
            500,
            'InternalError',
            'The request processing has failed due to some unknown error, exception or failure.',
          ),
        ),
    };
  }

  private tencentApi3Call(world: AccountWorld, request: Api3Request): CloudCall {
    const action = TencentApi3.actionOf(request);
    const scalingGroupId =
      (parseJson(request.body) as { AutoScalingGroupId?: string } | undefined)?.AutoScalingGroupId ??
      request.params.AutoScalingGroupId;
    const wire = (answer: Api3Answer): Wire => {
      const error = (answer.body.Response as { Error?: { Code: string } }).Error;
      return {
        status: answer.status,
        contentType: JSON_TYPE,
        text: JSON.stringify(answer.body),
        ...(error && { code: error.Code }),
      };
    };
    return {
      action,
      scalingGroupId,
      logParams: {
        ...Object.fromEntries(
          Object.entries(request.params).filter(([key]) => key !== 'Signature' && key !== 'Token'),
        ),
        ...(scalingGroupId && { ScalingGroupId: scalingGroupId }),
        ...(request.body && request.method === 'POST' && !request.params.Signature && { body: request.body }),
      },
      signature: request.headers['x-tc-action'] ? 'tc3' : 'v1',
      act: () => wire(world.tencent.api3.handle(request)),
      fault: (code, status, message) => wire(tencentError(code, message, undefined, status)),
      throttled: () =>
        wire(tencentError('RequestLimitExceeded', 'The request frequency exceeded the limit.')),
      serverError: () => wire(tencentError('InternalError', 'An internal error occurred.', undefined, 500)),
    };
  }

  private tencentV2Call(
    world: AccountWorld,
    method: string,
    host: string,
    params: Record<string, string>,
  ): CloudCall {
    const wire = (answer: V2Answer, status = 200): Wire => ({
      status,
      contentType: JSON_TYPE,
      text: JSON.stringify(answer),
      ...(answer.code !== 0 && { code: answer.codeDesc || String(answer.code) }),
    });
    return {
      action: params.Action ?? 'Unknown',
      scalingGroupId: params.scalingGroupId,
      logParams: {
        ...Object.fromEntries(
          Object.entries(params).filter(([key]) => key !== 'Signature' && key !== 'Token'),
        ),
        ...(params.scalingGroupId && { ScalingGroupId: params.scalingGroupId }),
      },
      signature: 'v2',
      act: () =>
        wire(
          method === 'GET' || method === 'POST'
            ? world.tencent.v2.handle(method, host, params)
            : { code: 4000, codeDesc: 'InvalidParameter', message: 'Only GET and POST are supported.' },
        ),
      // A v2 fault's httpStatus is the v2 `code`, answered with HTTP 200 as v2 answers its errors.
      fault: (code, status, message) => wire({ code: status, message, codeDesc: code }),
      throttled: () =>
        wire({
          code: 4400,
          codeDesc: 'RequestLimitExceeded',
          message: 'The request rate is over the limit.',
        }),
      serverError: () =>
        wire({ code: 6000, codeDesc: 'InternalError', message: 'An internal error occurred.' }, 500),
    };
  }

  /** An added instance must name a group the addition brings or the world has. */
  private unknownGroupOf(seed: EmulatorSeed): string | undefined {
    const essGroups = new Set([
      ...this.ess.state.groups.keys(),
      ...seed.aliyun.scalingGroups.map((g) => g.scalingGroupId),
    ]);
    for (const [index, instance] of seed.aliyun.instances.entries())
      if (instance.scalingGroupId !== undefined && !essGroups.has(instance.scalingGroupId))
        return `aliyun.instances[${index}].scalingGroupId: names group "${instance.scalingGroupId}", which neither the seed nor the emulator has`;
    const tencentGroups = new Set([
      ...this.tencent.state.groups.keys(),
      ...seed.tencent.groups.map((g) => g.autoScalingGroupId),
    ]);
    for (const [index, instance] of seed.tencent.instances.entries())
      if (instance.autoScalingGroupId !== undefined && !tencentGroups.has(instance.autoScalingGroupId))
        return `tencent.instances[${index}].autoScalingGroupId: names group "${instance.autoScalingGroupId}", which neither the seed nor the emulator has`;
    return undefined;
  }

  private takeFault(action: string, scalingGroupId: string | undefined): Fault | undefined {
    const index = this.faults.findIndex(
      (f) =>
        (f.action === undefined || f.action === action) &&
        (f.scalingGroupId === undefined || f.scalingGroupId === scalingGroupId),
    );
    if (index < 0) return undefined;
    const fault = this.faults[index] as Fault;
    fault.times -= 1;
    if (fault.times <= 0) this.faults.splice(index, 1);
    return fault;
  }

  private isAdminToken(token: string): boolean {
    const given = Buffer.from(token);
    return given.length === this.#adminToken.length && timingSafeEqual(given, this.#adminToken);
  }

  private admin(method: string, path: string, body: string, res: ServerResponse) {
    const route = `${method} ${path}`;
    // Reads and deletes take no body; anything sent with them is not a request of this API.
    if ((method === 'GET' || method === 'DELETE') && body.trim() !== '')
      return sendJson(res, 400, { error: `${route} takes no body` });
    switch (route) {
      case 'GET /admin/health':
        return sendJson(res, 200, { ok: true });
      case 'GET /admin/state':
        return sendJson(res, 200, {
          ...worldState(this.accounts.default),
          // Each member account's world, by name, as the default one is shown above.
          accounts: Object.fromEntries(
            [...this.accounts.members].map(([name, world]) => [
              name,
              { cloud: world.cloud, id: world.ids.aliyun, ...worldState(world) },
            ]),
          ),
        });
      case 'GET /admin/calls':
        return sendJson(res, 200, { calls: this.calls });
      case 'POST /admin/seed': {
        const seed = EmulatorSeed.safeParse(parseJson(body));
        if (!seed.success)
          return sendJson(res, 400, {
            error: `invalid seed: ${describeSeedError(seed.error)}`,
            issues: seed.error.issues,
          });
        try {
          this.reseed(seed.data);
        } catch (error) {
          return sendJson(res, 400, { error: `invalid seed: ${(error as Error).message}` });
        }
        return sendJson(res, 200, { ok: true });
      }
      case 'POST /admin/seed/add': {
        const seed = SeedAddition.safeParse(parseJson(body));
        if (!seed.success)
          return sendJson(res, 400, {
            error: `invalid seed: ${describeSeedError(seed.error)}`,
            issues: seed.error.issues,
          });
        const unknownGroup = this.unknownGroupOf(seed.data);
        if (unknownGroup) return sendJson(res, 400, { error: `invalid seed: ${unknownGroup}` });
        if (seed.data.accounts.length > 0 || seed.data.credentials.some((c) => c.policies))
          return sendJson(res, 400, {
            error:
              'invalid seed: accounts and policies come with a whole seed (POST /admin/seed), not an addition',
          });
        this.ess.add(seed.data);
        for (const c of seed.data.credentials)
          this.accounts.default.secrets.set(c.accessKeyId, c.accessKeySecret);
        this.tencent.state.add(seed.data);
        this.accounts.addDefaultKeys(seed.data);
        return sendJson(res, 200, { ok: true });
      }
      case 'POST /admin/faults': {
        const faults = z.array(Fault).safeParse(parseJson(body));
        if (!faults.success)
          return sendJson(res, 400, { error: 'invalid faults', issues: faults.error.issues });
        this.faults.push(...faults.data);
        return sendJson(res, 200, { ok: true, pending: this.faults.length });
      }
      case 'DELETE /admin/faults':
        this.faults = [];
        return sendJson(res, 200, { ok: true });
      case 'POST /admin/chaos': {
        const config = ChaosConfig.safeParse(parseJson(body));
        if (!config.success)
          return sendJson(res, 400, { error: 'invalid chaos', issues: config.error.issues });
        this.chaos = new Chaos(config.data);
        return sendJson(res, 200, { ok: true, ...this.chaos.toJSON() });
      }
      case 'GET /admin/chaos':
        return sendJson(
          res,
          200,
          this.chaos ? { enabled: true, ...this.chaos.toJSON() } : { enabled: false },
        );
      case 'DELETE /admin/chaos': {
        const last = this.chaos?.toJSON();
        this.chaos = undefined;
        return sendJson(res, 200, { ok: true, ...(last && { last }) });
      }
      default:
        return sendJson(res, 404, { error: `No admin route ${route}` });
    }
  }
}

/** One account's groups, instances, activities and server group backends, settled to now. */
function worldState(world: AccountWorld) {
  const { ess, tencent } = world;
  ess.state.settle(Date.now());
  tencent.state.settle(Date.now());
  return {
    tencent: {
      groups: [...tencent.state.groups.values()],
      instances: [...tencent.state.instances.values()],
      activities: [...tencent.state.activities.values()],
    },
    aliyun: {
      scalingGroups: [...ess.state.groups.values()],
      instances: [...ess.state.instances.values()],
      activities: [...ess.state.activities.values()],
      backends: Object.fromEntries([...ess.state.backends].map(([id, members]) => [id, [...members]])),
    },
  };
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': JSON_TYPE });
  res.end(JSON.stringify(body));
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

export async function startEmulator(
  options: { port?: number; host?: string; seed?: EmulatorSeed; adminToken?: string } = {},
): Promise<CloudEmulator> {
  const emulator = new CloudEmulator(options.seed ?? loadSeed(), {
    ...(options.adminToken && { adminToken: options.adminToken }),
  });
  await emulator.listen(options.port ?? 0, options.host);
  return emulator;
}
