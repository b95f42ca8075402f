import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import type { CompletionEvent } from '../contracts/index.ts';
import { isDetachError } from '../errors.ts';
import { SIGNATURE_HEADER, verifySignature } from '../signing/webhook-signature.ts';
import { guardedLookup, isRefusedAddress } from './callback-address-guard.ts';
import { type CallbackPolicy, HttpCallbackSender } from './http-callback-sender.ts';

const anEvent = (overrides: Partial<CompletionEvent> = {}): CompletionEvent => ({
  version: '1',
  eventId: 'e5a6d1c2-0000-4000-8000-000000000001',
  requestId: 'callback-test-1',
  action: 'detach-instances',
  status: 'Succeeded',
  attempts: 1,
  requestedAt: '2026-11-23T06:00:00.000Z',
  completedAt: '2026-11-23T06:00:05.000Z',
  ...overrides,
});

const deployed: CallbackPolicy = { requireHttps: true, allowPrivateAddresses: false, deadlineMs: 2000 };
const local: CallbackPolicy = { requireHttps: false, allowPrivateAddresses: true, deadlineMs: 2000 };
const secrets = async () => ({ current: 'callback-secret-current', previous: 'callback-secret-previous' });

const servers: Server[] = [];
afterEach(async () => {
  await Promise.all(
    servers.splice(0).map((server) => {
      server.closeAllConnections();
      return new Promise((resolve) => server.close(resolve));
    }),
  );
});

/** A receiver on 127.0.0.1; `answer` decides what it does with each post. */
async function receiver(answer: (res: ServerResponse, body: string, signature: string) => void) {
  let connections = 0;
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk) => {
      body += chunk;
    });
    req.on('end', () => answer(res, body, String(req.headers[SIGNATURE_HEADER])));
  });
  server.on('connection', () => {
    connections++;
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { port, url: `http://127.0.0.1:${port}/hook`, connections: () => connections };
}

/** The code the sender failed with (what the ledger keeps), and its message. */
async function failureOf(send: Promise<void>) {
  const error = await send.then(
    () => undefined,
    (thrown: unknown) => thrown,
  );
  if (!isDetachError(error)) throw new Error(`expected a DetachError, got ${String(error)}`);
  return { code: error.code, message: error.message };
}

describe('HttpCallbackSender (real sockets)', () => {
  it('delivers a signed event that a receiver holding either callback secret verifies', async () => {
    const received: { body: string; signature: string }[] = [];
    const target = await receiver((res, body, signature) => {
      received.push({ body, signature });
      res.writeHead(204).end();
    });

    await new HttpCallbackSender(secrets, local).send(target.url, anEvent());

    const [{ body, signature }] = received as [{ body: string; signature: string }];
    expect(JSON.parse(body)).toMatchObject({ requestId: 'callback-test-1', status: 'Succeeded' });
    expect(verifySignature(signature, 'callback-secret-current', body).ok).toBe(true);
    expect(verifySignature(signature, 'callback-secret-previous', body).ok).toBe(true);
    expect(verifySignature(signature, 'the-webhook-secret-is-another', body).ok).toBe(false);
  });

  it('refuses loopback, link-local, private, unique-local, CGNAT and IPv4-mapped targets before connecting', async () => {
    const target = await receiver((res) => res.writeHead(200).end());
    const sender = new HttpCallbackSender(secrets, { ...deployed, requireHttps: false });
    const urls = [
      target.url,
      `http://127.0.0.1:${target.port}/`,
      'http://169.254.169.254/latest/meta-data/',
      'http://10.0.0.5/',
      'http://172.16.3.4/',
      'http://192.168.1.1/',
      'http://100.64.0.1/',
      'http://0.0.0.0/',
      `http://[::1]:${target.port}/`,
      'http://[fe80::1]/',
      'http://[fd00::1]/',
      `http://[::ffff:127.0.0.1]:${target.port}/`,
      `http://2130706433:${target.port}/`, // 127.0.0.1 written as one number
    ];

    const failures = await Promise.all(urls.map((url) => failureOf(sender.send(url, anEvent()))));

    expect(failures.map((f) => f.code)).toEqual(urls.map(() => 'CallbackRefused'));
    expect(target.connections()).toBe(0);
  });

  it('refuses a host name that resolves to loopback (localhost) or, through DNS, to a private address', async () => {
    const target = await receiver((res) => res.writeHead(200).end());
    const rebinding = new HttpCallbackSender(
      secrets,
      { ...deployed, requireHttps: false },
      {
        // A public name whose DNS answer is an internal address: what DNS rebinding does.
        lookup: (_host, _options, callback) =>
          (callback as unknown as (e: null, a: { address: string; family: number }[]) => void)(null, [
            { address: '127.0.0.1', family: 4 },
          ]),
      },
    );

    const viaLocalhost = await failureOf(
      new HttpCallbackSender(secrets, { ...deployed, requireHttps: false }).send(
        `http://localhost:${target.port}/hook`,
        anEvent(),
      ),
    );
    const viaDns = await failureOf(rebinding.send(`http://hooks.example.com:${target.port}/`, anEvent()));

    expect(viaLocalhost.code).toBe('CallbackRefused');
    expect(viaDns.code).toBe('CallbackRefused');
    expect(target.connections()).toBe(0);
  });

  it('refuses http in a deployed stage, userinfo, and a host outside the allowlist', async () => {
    const allowlisted = new HttpCallbackSender(secrets, { ...deployed, allowedHosts: ['hooks.example.com'] });

    const failures = await Promise.all([
      failureOf(new HttpCallbackSender(secrets, deployed).send('http://hooks.example.com/', anEvent())),
      failureOf(allowlisted.send('https://user:pw@hooks.example.com/', anEvent())),
      failureOf(allowlisted.send('https://other.example.com/', anEvent())),
      failureOf(allowlisted.send('not a url', anEvent())),
    ]);

    expect(failures.map((f) => f.code)).toEqual([
      'CallbackRefused',
      'CallbackRefused',
      'CallbackRefused',
      'CallbackRefused',
    ]);
  });

  it('cuts off a receiver that trickles its answer at the deadline', async () => {
    let finished = false;
    const target = await receiver((res) => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      const drip = setInterval(() => res.write('.'), 50);
      res.on('close', () => clearInterval(drip));
      setTimeout(() => {
        finished = true;
        res.end();
      }, 30_000).unref();
    });

    const failure = await failureOf(
      new HttpCallbackSender(secrets, { ...local, deadlineMs: 400 }).send(target.url, anEvent()),
    );

    expect(failure.code).toBe('CallbackTimedOut');
    expect(finished).toBe(false);
  });

  it("keeps a code, never the receiver's answer or the network's error text", async () => {
    const target = await receiver((res) => res.writeHead(500).end('internal db at 10.1.2.3:5432 is down'));
    const closed = await receiver((res) => res.writeHead(200).end());
    const closedUrl = closed.url;
    await new Promise((resolve) => servers.pop()?.close(resolve));

    const status = await failureOf(new HttpCallbackSender(secrets, local).send(target.url, anEvent()));
    const unreachable = await failureOf(new HttpCallbackSender(secrets, local).send(closedUrl, anEvent()));

    expect(status.code).toBe('CallbackHttpStatus');
    expect(unreachable.code).toBe('CallbackUnreachable');
    expect(JSON.stringify([status, unreachable])).not.toMatch(/10\.1\.2\.3|500|ECONNREFUSED|127\.0\.0\.1/);
  });
});

describe('callback address guard', () => {
  it('refuses internal ranges and allows public addresses', () => {
    const refusedAddresses = [
      '127.0.0.1',
      '10.1.1.1',
      '169.254.169.254',
      '::1',
      '::',
      'fd12::1',
      '::ffff:10.0.0.1',
    ];
    const publicAddresses = ['93.184.216.34', '8.8.8.8', '2606:4700:4700::1111'];

    expect(refusedAddresses.filter((address) => !isRefusedAddress(address))).toEqual([]);
    expect(publicAddresses.filter((address) => isRefusedAddress(address))).toEqual([]);
  });

  it('passes a public answer through, and refuses a name when any of its addresses is internal', async () => {
    const resolveTo =
      (addresses: string[]) =>
      (
        _host: string,
        _options: object,
        callback: (e: null, a: { address: string; family: number }[]) => void,
      ) =>
        callback(
          null,
          addresses.map((address) => ({ address, family: address.includes(':') ? 6 : 4 })),
        );
    const lookUp = (addresses: string[], all: boolean) =>
      new Promise<unknown>((resolve) =>
        guardedLookup(resolveTo(addresses) as never)('hooks.example.com', { all }, (error, address) =>
          resolve(error ? (error as { code: string }).code : address),
        ),
      );

    expect(await lookUp(['93.184.216.34'], false)).toBe('93.184.216.34');
    expect(await lookUp(['93.184.216.34'], true)).toEqual([{ address: '93.184.216.34', family: 4 }]);
    expect(await lookUp(['93.184.216.34', '10.0.0.5'], true)).toBe('ECALLBACKREFUSED');
  });
});
