import { createServer, request as httpRequest, type IncomingMessage, type Server } from 'node:http';

/** What one service behind the meter was asked, by operation. */
export interface ServiceCount {
  calls: number;
  /** DynamoDB: write and read units as DynamoDB Local reports them (ConsumedCapacity, INDEXES). */
  writeUnits: number;
  readUnits: number;
  /** DynamoDB: of the write units, those spent on index copies (ConsumedCapacity.GlobalSecondaryIndexes). */
  indexWriteUnits: number;
  /** DynamoDB: calls answered with an error (a condition that failed, a cancelled transaction). */
  failed: number;
  /** EventBridge: entries put (each is a billed event up to 64 KB). SQS: messages sent. */
  entries: number;
  /** Lambda: wall time of the invocations, as the caller saw it (ms). */
  durationMs: number;
}

export type MeteredService = 'dynamodb' | 'sqs' | 'eventbridge' | 'lambda';

/** Counts by `service:operation` (Lambda: `lambda:<function name>`). */
export type MeterCounts = Map<string, ServiceCount>;

const empty = (): ServiceCount => ({
  calls: 0,
  failed: 0,
  writeUnits: 0,
  readUnits: 0,
  indexWriteUnits: 0,
  entries: 0,
  durationMs: 0,
});

interface ConsumedCapacity {
  CapacityUnits?: number;
  ReadCapacityUnits?: number;
  WriteCapacityUnits?: number;
  Table?: { CapacityUnits?: number; ReadCapacityUnits?: number; WriteCapacityUnits?: number };
  GlobalSecondaryIndexes?: Record<
    string,
    { CapacityUnits?: number; ReadCapacityUnits?: number; WriteCapacityUnits?: number }
  >;
}

/** DynamoDB operations that take ReturnConsumedCapacity, and whether they read or write. */
const DYNAMODB_KIND: Record<string, 'read' | 'write'> = {
  GetItem: 'read',
  BatchGetItem: 'read',
  Query: 'read',
  Scan: 'read',
  TransactGetItems: 'read',
  PutItem: 'write',
  UpdateItem: 'write',
  DeleteItem: 'write',
  BatchWriteItem: 'write',
  TransactWriteItems: 'write',
};

/**
 * A metering HTTP proxy for the local stack's AWS services (DynamoDB Local, fauxqs, the EventBridge emulator,
 * serverless-offline's Lambda endpoint): each request is forwarded as it came and counted by operation; the
 * bench reads what a scenario cost from the counts. For DynamoDB it adds `ReturnConsumedCapacity: "INDEXES"`
 * to every request body that takes it, reads `ConsumedCapacity` from the answer (DynamoDB Local computes it as
 * DynamoDB bills: 1 write unit per started KB per item, twice in a transaction, again per index copy; reads per
 * started 4 KB, halved when eventually consistent) and removes it again when the caller had not asked for it.
 */
export class AwsCallMeter {
  readonly counts: MeterCounts = new Map();
  readonly #servers: Server[] = [];

  /** Starts a proxy for `service` in front of `targetUrl`, on a free port of 127.0.0.1; returns its URL. */
  async front(service: MeteredService, targetUrl: string): Promise<string> {
    const target = new URL(targetUrl);
    const server = createServer((incoming, outgoing) => {
      void this.#forward(service, target, incoming).then(
        ({ status, headers, body }) => {
          outgoing.writeHead(status, headers);
          outgoing.end(body);
        },
        (error: unknown) => {
          outgoing.writeHead(502, { 'content-type': 'text/plain' });
          outgoing.end(`meter: ${String(error)}`);
        },
      );
    });
    server.keepAliveTimeout = 60_000;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    this.#servers.push(server);
    const { port } = server.address() as { port: number };
    return `http://127.0.0.1:${port}`;
  }

  /** The counts so far, copied, so that a scenario is the difference of two snapshots. */
  snapshot(): MeterCounts {
    return new Map([...this.counts].map(([key, count]) => [key, { ...count }]));
  }

  /** What was counted between two snapshots. */
  static since(before: MeterCounts, after: MeterCounts): MeterCounts {
    const out: MeterCounts = new Map();
    for (const [key, count] of after) {
      const was = before.get(key) ?? empty();
      const diff: ServiceCount = {
        calls: count.calls - was.calls,
        failed: count.failed - was.failed,
        writeUnits: count.writeUnits - was.writeUnits,
        readUnits: count.readUnits - was.readUnits,
        indexWriteUnits: count.indexWriteUnits - was.indexWriteUnits,
        entries: count.entries - was.entries,
        durationMs: count.durationMs - was.durationMs,
      };
      if (diff.calls !== 0) out.set(key, diff);
    }
    return out;
  }

  async close(): Promise<void> {
    await Promise.all(
      this.#servers.map(
        (server) =>
          new Promise<void>((resolve) => {
            server.closeAllConnections();
            server.close(() => resolve());
          }),
      ),
    );
    this.#servers.length = 0;
  }

  #count(key: string): ServiceCount {
    let count = this.counts.get(key);
    if (!count) {
      count = empty();
      this.counts.set(key, count);
    }
    return count;
  }

  async #forward(service: MeteredService, target: URL, incoming: IncomingMessage) {
    const chunks: Buffer[] = [];
    for await (const chunk of incoming) chunks.push(chunk as Buffer);
    let body = Buffer.concat(chunks);
    const operation = operationOf(service, incoming, body);
    const count = this.#count(`${service}:${operation}${service === 'sqs' ? queueOf(body) : ''}`);
    count.calls += 1;
    let askedCapacity = true;
    if (service === 'dynamodb' && DYNAMODB_KIND[operation]) {
      const parsed = JSON.parse(body.toString('utf8')) as Record<string, unknown>;
      askedCapacity = parsed.ReturnConsumedCapacity !== undefined && parsed.ReturnConsumedCapacity !== 'NONE';
      if (!askedCapacity) {
        parsed.ReturnConsumedCapacity = 'INDEXES';
        body = Buffer.from(JSON.stringify(parsed));
      }
    }
    if (service === 'eventbridge' && operation === 'PutEvents') {
      count.entries += (JSON.parse(body.toString('utf8')) as { Entries?: unknown[] }).Entries?.length ?? 0;
    }
    if (service === 'sqs' && operation === 'SendMessageBatch') {
      count.entries += (JSON.parse(body.toString('utf8')) as { Entries?: unknown[] }).Entries?.length ?? 0;
    } else if (service === 'sqs' && operation === 'SendMessage') count.entries += 1;
    const headers = { ...incoming.headers, host: target.host, 'content-length': String(body.length) };
    const started = performance.now();
    const answer = await new Promise<{ status: number; headers: IncomingMessage['headers']; body: Buffer }>(
      (resolve, reject) => {
        const outgoing = httpRequest(
          {
            hostname: target.hostname,
            port: target.port,
            method: incoming.method,
            path: incoming.url,
            headers,
          },
          async (response) => {
            const parts: Buffer[] = [];
            for await (const chunk of response) parts.push(chunk as Buffer);
            resolve({
              status: response.statusCode ?? 502,
              headers: response.headers,
              body: Buffer.concat(parts),
            });
          },
        );
        outgoing.once('error', reject);
        outgoing.end(body);
      },
    );
    if (service === 'lambda') count.durationMs += performance.now() - started;
    let answerBody = answer.body;
    const kind = DYNAMODB_KIND[operation];
    if (service === 'dynamodb' && kind && answer.status !== 200) {
      count.failed += 1;
      // An error answer carries no ConsumedCapacity; DynamoDB still bills a single write whose condition
      // failed as a write of the item (at least 1 unit). A cancelled transaction is counted, not priced.
      if (kind === 'write' && operation !== 'TransactWriteItems') count.writeUnits += 1;
    }
    if (service === 'dynamodb' && kind && answer.status === 200 && answerBody.length > 0) {
      const parsed = JSON.parse(answerBody.toString('utf8')) as { ConsumedCapacity?: unknown };
      const consumed = parsed.ConsumedCapacity;
      for (const capacity of (Array.isArray(consumed)
        ? consumed
        : consumed
          ? [consumed]
          : []) as ConsumedCapacity[])
        addCapacity(count, capacity, kind, operation === 'Query' || operation === 'Scan');
      if (!askedCapacity && consumed !== undefined) {
        delete parsed.ConsumedCapacity;
        answerBody = Buffer.from(JSON.stringify(parsed));
      }
    }
    const outHeaders: Record<string, string | string[] | undefined> = {
      ...answer.headers,
      'content-length': String(answerBody.length),
    };
    // The answer's checksum covers the body as DynamoDB Local wrote it; the SDK checks it when it is there.
    delete outHeaders['x-amz-crc32'];
    delete outHeaders['transfer-encoding'];
    return { status: answer.status, headers: outHeaders, body: answerBody };
  }
}

function addCapacity(
  count: ServiceCount,
  capacity: ConsumedCapacity,
  kind: 'read' | 'write',
  query: boolean,
) {
  // DynamoDB Local reports 0 for a Query that finds nothing; DynamoDB bills it as one 4 KB read at least
  // (0.5 unit eventually consistent, as every Query of the indexes is).
  const total = query && !capacity.CapacityUnits ? 0.5 : (capacity.CapacityUnits ?? 0);
  const indexes = Object.values(capacity.GlobalSecondaryIndexes ?? {}).reduce(
    (sum, index) => sum + (index.CapacityUnits ?? index.WriteCapacityUnits ?? 0),
    0,
  );
  // A transaction's or an update's total holds both reads and writes only when both are given apart.
  const read = capacity.ReadCapacityUnits ?? (kind === 'read' ? total : 0);
  const write = capacity.WriteCapacityUnits ?? (kind === 'write' ? total : 0);
  count.readUnits += read;
  count.writeUnits += write;
  if (kind === 'write') count.indexWriteUnits += indexes;
}

/** The operation a request names: the JSON protocols' X-Amz-Target, the query protocol's Action, Lambda's path. */
function operationOf(service: MeteredService, incoming: IncomingMessage, body: Buffer): string {
  if (service === 'lambda')
    return /\/functions\/([^/]+)\/invocations/.exec(incoming.url ?? '')?.[1] ?? 'other';
  const target = incoming.headers['x-amz-target'];
  if (typeof target === 'string') return target.slice(target.lastIndexOf('.') + 1);
  const action = new URLSearchParams(body.toString('utf8')).get('Action');
  return action ?? 'other';
}

/** SQS: the queue a call names (` <name>`), so that the poller's next-pass messages are told from requests. */
function queueOf(body: Buffer): string {
  const text = body.toString('utf8');
  const url = text.startsWith('{')
    ? (JSON.parse(text) as { QueueUrl?: string }).QueueUrl
    : (new URLSearchParams(text).get('QueueUrl') ?? undefined);
  return url ? ` ${url.slice(url.lastIndexOf('/') + 1)}` : '';
}
