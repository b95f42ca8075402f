import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { DetachError } from '../errors.ts';
import { createHttpAgent, httpTarget, post, postForm } from './http.ts';

/** A real HTTP server on 127.0.0.1; each test says how it answers. */
let answer: (req: IncomingMessage, res: ServerResponse, body: string) => void;
const received: {
  method: string | undefined;
  url: string | undefined;
  headers: IncomingMessage['headers'];
  body: string;
}[] = [];
const server = createServer((req, res) => {
  let body = '';
  req.setEncoding('utf8');
  req.on('data', (chunk: string) => {
    body += chunk;
  });
  req.on('end', () => {
    received.push({ method: req.method, url: req.url, headers: req.headers, body });
    answer(req, res, body);
  });
});
let origin: string;
const agent = createHttpAgent({ connectTimeoutMs: 1_000, responseTimeoutMs: 200, connectionsPerOrigin: 2 });

beforeAll(async () => {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterEach(() => {
  received.length = 0;
});
afterAll(async () => {
  await agent.close();
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

const failure = (promise: Promise<unknown>) =>
  promise.then(
    () => {
      throw new Error('expected a failure');
    },
    (error: unknown) => error as DetachError,
  );

describe('post', () => {
  it('sends the body and headers to the path, and reads an answer that comes in pieces', async () => {
    const bytes = Buffer.from('\uFEFF{"message":"伸缩组 é"}', 'utf8');
    answer = (_req, res) => {
      res.writeHead(201, { 'content-type': 'application/json; charset=utf-8' });
      // Split inside the BOM and inside a three-byte character, each piece flushed on its own.
      res.write(bytes.subarray(0, 2));
      setTimeout(() => {
        res.write(bytes.subarray(2, 16));
        setTimeout(() => res.end(bytes.subarray(16)), 20);
      }, 20);
    };

    const response = await post(agent, httpTarget(`${origin}/v2/index.php?x=1`), { 'x-a': 'b' }, 'a=1&b=2');

    expect(response).toEqual({
      status: 201,
      contentType: 'application/json; charset=utf-8',
      text: '{"message":"伸缩组 é"}',
    });
    expect(received).toEqual([
      expect.objectContaining({
        method: 'POST',
        url: '/v2/index.php?x=1',
        body: 'a=1&b=2',
        headers: expect.objectContaining({ 'x-a': 'b', 'content-length': '7' }),
      }),
    ]);
  });

  it('reads an empty answer as empty text', async () => {
    answer = (_req, res) => {
      res.writeHead(204);
      res.end();
    };

    expect(await post(agent, httpTarget(origin), {}, 'x')).toEqual({
      status: 204,
      contentType: '',
      text: '',
    });
  });

  it('a body that stops coming is a transient network error once the response timeout passes', async () => {
    answer = (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': '100' });
      res.write('{"partial":');
    };

    const error = await failure(post(agent, httpTarget(origin), {}, 'x'));

    expect(error).toBeInstanceOf(DetachError);
    expect([error.code, error.kind]).toEqual(['Network.UND_ERR_BODY_TIMEOUT', 'transient']);
  });

  it('a refused connection is a transient network error', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const { port } = closed.address() as AddressInfo;
    await new Promise<void>((resolve) => closed.close(() => resolve()));

    const error = await failure(post(agent, httpTarget(`http://127.0.0.1:${port}`), {}, 'x'));

    expect([error.code, error.kind]).toEqual(['Network.ECONNREFUSED', 'transient']);
  });

  it('a header undici refuses fails the call as a network error, not a throw', async () => {
    const error = await failure(post(agent, httpTarget(origin), { 'x-bad': 'a\r\nb' }, 'x'));

    expect(error.kind).toBe('transient');
    expect(error.code).toMatch(/^Network\.UND_ERR/);
    expect(received).toEqual([]);
  });
});

describe('postForm', () => {
  it('sends a form with its content type, and an empty body without one', async () => {
    answer = (_req, res) => res.end('{}');

    await postForm(agent, `${origin}/`, 'a=1', { 'x-acs-action': 'A' });
    await postForm(agent, `${origin}/?q=1`, '', { 'x-acs-action': 'B' });

    expect(
      received.map((r) => [r.url, r.headers['content-type'], r.headers['x-acs-action'], r.body]),
    ).toEqual([
      ['/', 'application/x-www-form-urlencoded', 'A', 'a=1'],
      ['/?q=1', undefined, 'B', ''],
    ]);
  });
});
