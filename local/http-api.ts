import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { invokeFunction } from './lambda-invoker.ts';

/** The webhook's HTTP API routes (serverless.yml `functions.webhook.events`; test/template.test.ts holds them to the template). */
export const WEBHOOK_ROUTES = [
  'POST /v1/{action}',
  'GET /v1/operations/{requestId}',
  'GET /v1/groups/{provider}/{region}/{groupId}',
  'GET /v1/groups/{provider}/{region}/{groupId}/{account}',
] as const;

/**
 * Lambda's limit on a synchronous invocation's payload (6 MB): a body that would not fit in the event gets
 * API Gateway's 413, not the 500 of a failed invoke.
 */
export const INVOKE_PAYLOAD_LIMIT_BYTES = 6 * 1024 * 1024;

/**
 * What API Gateway's HTTP API (payload 2.0) does for the webhook, on 127.0.0.1: the event carries the body's
 * bytes as they came and the path as it was sent (`rawPath`, still percent-encoded), which is what the
 * signature covers. serverless-offline's own HTTP server parses a JSON body and hands the function a
 * re-serialised or emptied one (a scalar such as `null` or `"text"` then fails its signature), so the local
 * stack serves the routes here and invokes the function through serverless-offline's Lambda endpoint.
 */
export async function startHttpApi(options: {
  port: number;
  lambdaUrl: string;
  functionName: string;
}): Promise<{ url: string; stop(): Promise<void> }> {
  const server: Server = createServer((req, res) => {
    serve(req, res, options).catch(() => {
      // The caller may be gone already; then there is no one to answer.
      if (res.headersSent || res.destroyed) res.destroy();
      else reply(res, { statusCode: 500, body: '{"message":"Internal Server Error"}' });
    });
  });
  server.on('clientError', (_, socket) => socket.destroy());
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, '127.0.0.1', resolve);
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    stop: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

async function serve(
  req: IncomingMessage,
  res: ServerResponse,
  options: { lambdaUrl: string; functionName: string },
): Promise<void> {
  const chunks: Buffer[] = [];
  let size = 0;
  // A body over the limit is read to its end but not kept, so the caller is there to read the answer.
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size <= INVOKE_PAYLOAD_LIMIT_BYTES) chunks.push(chunk as Buffer);
  }
  if (size > INVOKE_PAYLOAD_LIMIT_BYTES)
    return reply(res, { statusCode: 413, body: '{"message":"Request Entity Too Large"}' });
  const bytes = Buffer.concat(chunks);
  const target = new URL(req.url ?? '/', 'http://localhost');
  const rawPath = (req.url ?? '/').split('?')[0] as string;
  const route = matchRoute(req.method ?? 'GET', rawPath);
  if (!route) return reply(res, { statusCode: 404, body: '{"message":"Not Found"}' });

  const result = await invokeFunction(options.lambdaUrl, options.functionName, {
    version: '2.0',
    routeKey: route.routeKey,
    rawPath,
    rawQueryString: target.search.slice(1),
    headers: headersOf(req),
    ...(target.search && { queryStringParameters: Object.fromEntries(target.searchParams) }),
    ...(route.pathParameters && { pathParameters: route.pathParameters }),
    requestContext: {
      accountId: '000000000000',
      apiId: 'local',
      domainName: req.headers.host ?? '127.0.0.1',
      domainPrefix: 'local',
      http: {
        method: req.method ?? 'GET',
        path: rawPath,
        protocol: `HTTP/${req.httpVersion}`,
        sourceIp: req.socket.remoteAddress ?? '127.0.0.1',
        userAgent: req.headers['user-agent'] ?? '',
      },
      requestId: randomUUID(),
      routeKey: route.routeKey,
      stage: '$default',
      time: new Date().toUTCString(),
      timeEpoch: Date.now(),
    },
    isBase64Encoded: bytes.length > 0 && !isText(req.headers['content-type']),
    ...(bytes.length > 0 && {
      body: isText(req.headers['content-type']) ? bytes.toString('utf8') : bytes.toString('base64'),
    }),
  } satisfies APIGatewayProxyEventV2);
  if (result.functionError)
    return reply(res, { statusCode: 500, body: '{"message":"Internal Server Error"}' });
  const payload = result.payload as APIGatewayProxyStructuredResultV2 | undefined;
  // A result without a statusCode is, to HTTP API, a 200 whose body is that result as JSON.
  reply(res, payload?.statusCode ? payload : { statusCode: 200, body: JSON.stringify(payload ?? null) });
}

function matchRoute(method: string, rawPath: string) {
  for (const routeKey of WEBHOOK_ROUTES) {
    const [routeMethod, template] = routeKey.split(' ') as [string, string];
    if (routeMethod !== method) continue;
    const names: string[] = [];
    const pattern = template.replace(/\{(\w+)\}/g, (_, name: string) => {
      names.push(name);
      return '([^/]+)';
    });
    const match = new RegExp(`^${pattern}$`).exec(rawPath);
    if (!match) continue;
    const values = names.map((name, index) => [name, decodedOrRaw(match[index + 1] as string)]);
    return { routeKey, pathParameters: values.length ? Object.fromEntries(values) : undefined };
  }
  return undefined;
}

/** A path parameter that is not a valid escape is passed as sent; the function answers it (404). */
function decodedOrRaw(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}

/** HTTP API lower-cases header names and joins repeated headers with commas. */
function headersOf(req: IncomingMessage): Record<string, string> {
  const headers: Record<string, string> = {};
  for (let i = 0; i < req.rawHeaders.length; i += 2) {
    const name = (req.rawHeaders[i] as string).toLowerCase();
    const value = req.rawHeaders[i + 1] as string;
    headers[name] = headers[name] === undefined ? value : `${headers[name]},${value}`;
  }
  return headers;
}

/** Bodies HTTP API passes as text; anything else arrives base64-encoded. */
function isText(contentType: string | undefined): boolean {
  if (!contentType) return true;
  return /^(text\/|application\/(json|[\w.+-]*\+json|xml|javascript|x-www-form-urlencoded))/i.test(
    contentType,
  );
}

function reply(res: ServerResponse, result: APIGatewayProxyStructuredResultV2 | undefined) {
  const statusCode = result?.statusCode ?? 200;
  const body = result?.body ?? '';
  res.writeHead(statusCode, { 'content-type': 'application/json', ...(result?.headers ?? {}) });
  res.end(result?.isBase64Encoded ? Buffer.from(body, 'base64') : body);
}
