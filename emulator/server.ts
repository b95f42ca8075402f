import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { z } from 'zod';
import { EssApi } from './ess/ess-api.ts';
import { EmulatorSeed, Fault } from './seed.ts';
import { TencentApi3 } from './tencent/tencent-api3.ts';
import { TencentState } from './tencent/tencent-state.ts';
import { TencentV2, V2_PATH } from './tencent/tencent-v2.ts';
import { toXml } from './xml.ts';

export const DEFAULT_SEED_PATH = new URL('./seed.default.json', import.meta.url);

export const loadSeed = (path: string | URL = DEFAULT_SEED_PATH): EmulatorSeed =>
  EmulatorSeed.parse(JSON.parse(readFileSync(path, 'utf8')));

export interface CallRecord {
  action: string;
  at: string;
  status: number;
  code?: string;
  params: Record<string, string>;
}

const SECRET_PARAMS = new Set(['Signature', 'SecurityToken']);

/** The cloud emulator: the ESS RPC API on `/`, and an admin API on `/admin/*` for tests and people. */
export class CloudEmulator {
  ess: EssApi;
  tencent!: { state: TencentState; api3: TencentApi3; v2: TencentV2 };
  #secrets = new Map<string, string>();
  readonly calls: CallRecord[] = [];
  faults: Fault[] = [];
  readonly #server: Server;

  constructor(seed: EmulatorSeed) {
    this.ess = new EssApi(seed);
    this.seedTencent(seed);
    this.#server = createServer((req, res) => {
      this.route(req, res).catch((error: unknown) => {
        res.writeHead(500, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ Code: 'InternalError', Message: String(error) }));
      });
    });
    this.#server.keepAliveTimeout = 60_000;
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

  /** Tencent keys are the seed's credentials too: accessKeyId as SecretId, accessKeySecret as SecretKey. */
  private seedTencent(seed: EmulatorSeed): void {
    this.#secrets = new Map(seed.credentials.map((c) => [c.accessKeyId, c.accessKeySecret]));
    const state = new TencentState(seed, seed.activityDurationMs);
    const secrets = () => this.#secrets;
    this.tencent = { state, api3: new TencentApi3(state, secrets), v2: new TencentV2(state, secrets) };
  }

  private addTencent(seed: EmulatorSeed): void {
    for (const c of seed.credentials) this.#secrets.set(c.accessKeyId, c.accessKeySecret);
    this.tencent.state.add(seed);
  }

  reseed(seed: EmulatorSeed): void {
    this.ess = new EssApi(seed);
    this.seedTencent(seed);
    this.faults = [];
    this.calls.length = 0;
  }

  private async route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://emulator');
    const body = await readBody(req);
    if (url.pathname.startsWith('/admin/')) return this.admin(req.method ?? 'GET', url.pathname, body, res);
    if (url.pathname === V2_PATH && (req.method === 'GET' || req.method === 'POST')) {
      const params = {
        ...Object.fromEntries(url.searchParams),
        ...(req.method === 'POST' ? Object.fromEntries(new URLSearchParams(body)) : {}),
      };
      return this.tencentV2(req.method, String(req.headers.host ?? ''), params, res);
    }
    if (url.pathname === '/' && req.method === 'POST' && req.headers['x-tc-action']) {
      return this.tencentApi3(req, body, res);
    }
    if (url.pathname === '/' && (req.method === 'GET' || req.method === 'POST')) {
      const params = Object.fromEntries(url.searchParams);
      if (
        req.method === 'POST' &&
        String(req.headers['content-type'] ?? '').includes('application/x-www-form-urlencoded')
      ) {
        Object.assign(params, Object.fromEntries(new URLSearchParams(body)));
      }
      return this.rpc(req.method, params, res);
    }
    sendJson(res, 404, { Code: 'NotFound', Message: `No route ${req.method} ${url.pathname}` });
  }

  private async rpc(method: string, params: Record<string, string>, res: ServerResponse): Promise<void> {
    const action = params.Action ?? 'Unknown';
    const fault = this.takeFault(action, params.ScalingGroupId);
    if (fault?.latencyMs) await sleep(fault.latencyMs);
    if (fault?.drop === 'before') return void res.socket?.destroy();
    const answer = fault?.error
      ? {
          status: fault.error.httpStatus,
          format: params.Format?.toUpperCase() === 'XML' ? ('XML' as const) : ('JSON' as const),
          rootName: 'Error',
          body: {
            RequestId: crypto.randomUUID(),
            Code: fault.error.code,
            Message: fault.error.message ?? fault.error.code,
          },
        }
      : this.ess.handle({ method, params });
    this.calls.push({
      action,
      at: new Date().toISOString(),
      status: answer.status,
      ...(typeof answer.body.Code === 'string' && { code: answer.body.Code }),
      params: Object.fromEntries(Object.entries(params).filter(([key]) => !SECRET_PARAMS.has(key))),
    });
    if (fault?.drop === 'after') return void res.socket?.destroy();
    if (answer.format === 'XML') {
      res.writeHead(answer.status, { 'content-type': 'text/xml;charset=utf-8' });
      res.end(`<?xml version="1.0" encoding="UTF-8"?>${toXml(answer.rootName, answer.body)}`);
    } else {
      sendJson(res, answer.status, answer.body);
    }
  }

  private async tencentApi3(req: IncomingMessage, body: string, res: ServerResponse): Promise<void> {
    const action = String(req.headers['x-tc-action']);
    const scalingGroupId = (parseJson(body) as { AutoScalingGroupId?: string } | undefined)
      ?.AutoScalingGroupId;
    const fault = this.takeFault(action, scalingGroupId);
    if (fault?.latencyMs) await sleep(fault.latencyMs);
    if (fault?.drop === 'before') return void res.socket?.destroy();
    const answer = fault?.error
      ? {
          status: fault.error.httpStatus,
          body: {
            Response: {
              Error: { Code: fault.error.code, Message: fault.error.message ?? fault.error.code },
              RequestId: crypto.randomUUID(),
            },
          },
        }
      : this.tencent.api3.handle({ headers: req.headers as Record<string, string>, body });
    const error = (answer.body.Response as { Error?: { Code: string } }).Error;
    this.calls.push({
      action,
      at: new Date().toISOString(),
      status: answer.status,
      ...(error && { code: error.Code }),
      params: { ...(scalingGroupId && { ScalingGroupId: scalingGroupId }), body },
    });
    if (fault?.drop === 'after') return void res.socket?.destroy();
    sendJson(res, answer.status, answer.body);
  }

  private async tencentV2(
    method: string,
    host: string,
    params: Record<string, string>,
    res: ServerResponse,
  ): Promise<void> {
    const action = params.Action ?? 'Unknown';
    const fault = this.takeFault(action, params.scalingGroupId);
    if (fault?.latencyMs) await sleep(fault.latencyMs);
    if (fault?.drop === 'before') return void res.socket?.destroy();
    const answer = fault?.error
      ? {
          code: Number(fault.error.httpStatus),
          message: fault.error.message ?? '',
          codeDesc: fault.error.code,
        }
      : this.tencent.v2.handle(method, host, params);
    this.calls.push({
      action,
      at: new Date().toISOString(),
      status: 200,
      ...(answer.code !== 0 && { code: answer.codeDesc || String(answer.code) }),
      params: {
        ...Object.fromEntries(
          Object.entries(params).filter(([key]) => key !== 'Signature' && key !== 'Token'),
        ),
        ...(params.scalingGroupId && { ScalingGroupId: params.scalingGroupId }),
      },
    });
    if (fault?.drop === 'after') return void res.socket?.destroy();
    sendJson(res, 200, answer);
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

  private admin(method: string, path: string, body: string, res: ServerResponse) {
    const route = `${method} ${path}`;
    switch (route) {
      case 'GET /admin/health':
        return sendJson(res, 200, { ok: true });
      case 'GET /admin/state': {
        this.ess.state.settle(Date.now());
        this.tencent.state.settle(Date.now());
        return sendJson(res, 200, {
          tencent: {
            groups: [...this.tencent.state.groups.values()],
            instances: [...this.tencent.state.instances.values()],
            activities: [...this.tencent.state.activities.values()],
          },
          aliyun: {
            scalingGroups: [...this.ess.state.groups.values()],
            instances: [...this.ess.state.instances.values()],
            activities: [...this.ess.state.activities.values()],
            backends: Object.fromEntries(
              [...this.ess.state.backends].map(([id, members]) => [id, [...members]]),
            ),
          },
        });
      }
      case 'GET /admin/calls':
        return sendJson(res, 200, { calls: this.calls });
      case 'POST /admin/seed':
      case 'POST /admin/seed/add': {
        const seed = EmulatorSeed.safeParse(parseJson(body));
        if (!seed.success) return sendJson(res, 400, { error: 'invalid seed', issues: seed.error.issues });
        if (path === '/admin/seed') this.reseed(seed.data);
        else {
          this.ess.add(seed.data);
          this.addTencent(seed.data);
        }
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
      default:
        return sendJson(res, 404, { error: `No admin route ${route}` });
    }
  }
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json;charset=utf-8' });
  res.end(JSON.stringify(body));
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

export async function startEmulator(
  options: { port?: number; seed?: EmulatorSeed } = {},
): Promise<CloudEmulator> {
  const emulator = new CloudEmulator(options.seed ?? loadSeed());
  await emulator.listen(options.port ?? 0);
  return emulator;
}
