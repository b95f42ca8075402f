/**
 * A fault-injecting HTTP proxy in front of DynamoDB Local, for the chaos run (bench/chaos.ts) and tests: each
 * call is forwarded unless the fault plan says otherwise, and every call is counted by operation (a tap a bench
 * can also use to count what a path costs). The faults are DynamoDB's own answers, or what the network does:
 *
 * - `throughput`: 400 ProvisionedThroughputExceededException; `throttling`: 400 ThrottlingException;
 * - `serverError`: 500 InternalServerError (the SDK retries all three);
 * - `hang`: the call is not forwarded and never answered (the client's timeout ends it);
 * - `dropAfter`: the call is forwarded and applied, then the connection is destroyed before the answer: a
 *   write applied whose answer is lost;
 * - `hangAfter`: the call is forwarded and applied, and its answer never comes (a timed-out write that applied).
 *
 * A plan has seeded rates (one uniform draw per call of the listed operations; the faults are exclusive, so
 * the rates add up to at most 1) and a script of faults matched first, in order, each `times` times.
 */
import { createServer, request as httpRequest, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';

export const DYNAMODB_FAULTS = [
  'throughput',
  'throttling',
  'serverError',
  'hang',
  'dropAfter',
  'hangAfter',
] as const;
export type DynamoDbFault = (typeof DYNAMODB_FAULTS)[number];

export interface ScriptedFault {
  fault: DynamoDbFault;
  /** DynamoDB operation (PutItem, UpdateItem, TransactWriteItems, Query, GetItem, BatchGetItem, ...); any when absent. */
  operation?: string;
  /** Only a call whose body contains this text (a request id, a table name). */
  bodyContains?: string;
  /** How many calls it answers; 1 when absent. */
  times?: number;
}

export interface FaultPlan {
  seed?: number;
  rates?: Partial<Record<DynamoDbFault, number>>;
  /** Only these operations draw from the rates; every operation when absent. */
  operations?: string[];
  script?: ScriptedFault[];
}

export interface ProxyCounts {
  /** Calls that reached the proxy, by operation. */
  calls: Record<string, number>;
  /** Faults injected, by fault, then by operation. */
  injected: Record<DynamoDbFault, Record<string, number>>;
}

/** One injected fault, with the start of the body it answered (to tell which request it touched). */
export interface InjectedFault {
  at: number;
  operation: string;
  fault: DynamoDbFault;
  body: string;
}

export interface DynamoDbFaultProxy {
  url: string;
  /** Every fault injected so far, oldest first (bodies cut to 4 KB). */
  faults(): InjectedFault[];
  /** Replaces the plan (and its script); counts are kept. */
  setPlan(plan: FaultPlan): void;
  /** Adds faults to the end of the script. */
  script(...faults: ScriptedFault[]): void;
  counts(): ProxyCounts;
  /** Forgets the counts and the faults injected so far. */
  resetCounts(): void;
  close(): Promise<void>;
}

const ERRORS: Record<
  'throughput' | 'throttling' | 'serverError',
  { status: number; type: string; message: string }
> = {
  throughput: {
    status: 400,
    type: 'com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException',
    message:
      'The level of configured provisioned throughput for the table was exceeded. Consider increasing your provisioning level with the UpdateTable API.',
  },
  throttling: {
    status: 400,
    type: 'com.amazon.coral.availability#ThrottlingException',
    message: 'Rate of requests exceeds the allowed throughput.',
  },
  serverError: {
    status: 500,
    type: 'com.amazonaws.dynamodb.v20120810#InternalServerError',
    message: 'Internal server error',
  },
};

/** mulberry32: the same sequence for the same seed on every machine. */
function mulberry32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const emptyInjected = () =>
  Object.fromEntries(DYNAMODB_FAULTS.map((fault) => [fault, {}])) as ProxyCounts['injected'];

/** Starts the proxy on 127.0.0.1 (`port` 0: a free one), forwarding to `target` (DynamoDB Local's URL). */
export async function startDynamoDbFaultProxy(options: {
  target: string;
  port?: number;
  plan?: FaultPlan;
}): Promise<DynamoDbFaultProxy> {
  const target = new URL(options.target);
  let plan: FaultPlan = {};
  let script: (ScriptedFault & { left: number })[] = [];
  let random = mulberry32(0);
  let calls: Record<string, number> = {};
  let injected = emptyInjected();
  let trace: InjectedFault[] = [];
  const sockets = new Set<Socket>();

  const setPlan = (next: FaultPlan) => {
    const total = Object.values(next.rates ?? {}).reduce((sum, p) => sum + (p ?? 0), 0);
    if (total > 1) throw new Error('the fault rates add up to more than 1');
    plan = next;
    random = mulberry32(next.seed ?? Date.now());
    script = (next.script ?? []).map((fault) => ({ ...fault, left: fault.times ?? 1 }));
  };
  setPlan(options.plan ?? {});

  const draw = (operation: string, body: string): DynamoDbFault | undefined => {
    const scripted = script.find(
      (fault) =>
        fault.left > 0 &&
        (!fault.operation || fault.operation === operation) &&
        (!fault.bodyContains || body.includes(fault.bodyContains)),
    );
    if (scripted) {
      scripted.left -= 1;
      return scripted.fault;
    }
    if (plan.operations && !plan.operations.includes(operation)) return undefined;
    let u = random();
    for (const fault of DYNAMODB_FAULTS) {
      const p = plan.rates?.[fault] ?? 0;
      if (u < p) return fault;
      u -= p;
    }
    return undefined;
  };

  const forward = (req: IncomingMessage, body: Buffer) =>
    new Promise<{ status: number; headers: IncomingMessage['headers']; body: Buffer }>((resolve, reject) => {
      const upstream = httpRequest(
        {
          host: target.hostname,
          port: target.port,
          method: req.method,
          path: req.url,
          headers: { ...req.headers, host: target.host },
        },
        async (answer) => {
          const chunks: Buffer[] = [];
          try {
            for await (const chunk of answer) chunks.push(chunk as Buffer);
            resolve({
              status: answer.statusCode ?? 502,
              headers: answer.headers,
              body: Buffer.concat(chunks),
            });
          } catch (error) {
            reject(error);
          }
        },
      );
      upstream.on('error', reject);
      upstream.end(body);
    });

  const answerError = (res: ServerResponse, fault: keyof typeof ERRORS) => {
    const error = ERRORS[fault];
    res
      .writeHead(error.status, {
        'content-type': 'application/x-amz-json-1.0',
        'x-amzn-requestid': `fault-proxy-${Math.floor(random() * 1e12)}`,
      })
      .end(JSON.stringify({ __type: error.type, message: error.message }));
  };

  const server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks);
    const operation = String(req.headers['x-amz-target'] ?? '').split('.')[1] ?? 'unknown';
    calls[operation] = (calls[operation] ?? 0) + 1;
    const text = body.toString('utf8');
    const fault = draw(operation, text);
    if (fault) {
      injected[fault][operation] = (injected[fault][operation] ?? 0) + 1;
      trace.push({ at: Date.now(), operation, fault, body: text.slice(0, 4096) });
    }
    if (fault === 'hang') return;
    if (fault === 'throughput' || fault === 'throttling' || fault === 'serverError') {
      answerError(res, fault);
      return;
    }
    let answer: Awaited<ReturnType<typeof forward>>;
    try {
      answer = await forward(req, body);
    } catch {
      // DynamoDB Local itself unreachable: the client sees a dropped connection.
      req.socket.destroy();
      return;
    }
    if (fault === 'hangAfter') return;
    if (fault === 'dropAfter') {
      req.socket.destroy();
      return;
    }
    res.writeHead(answer.status, answer.headers).end(answer.body);
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', resolve);
  });
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('the proxy has no port');

  return {
    url: `http://127.0.0.1:${address.port}`,
    setPlan,
    script: (...faults) => {
      script.push(...faults.map((fault) => ({ ...fault, left: fault.times ?? 1 })));
    },
    faults: () => [...trace],
    counts: () => structuredClone({ calls, injected }),
    resetCounts: () => {
      calls = {};
      injected = emptyInjected();
      trace = [];
    },
    close: async () => {
      // Hung calls hold their sockets open: end them, or close() would wait for them.
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
