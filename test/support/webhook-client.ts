import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { request } from 'undici';
import {
  SIGNATURE_HEADER,
  signatureHeader,
  verifySignature,
} from '../../shared/signing/webhook-signature.ts';

/** Sends signed requests to the webhook as a caller does. */
export function webhookClient(baseUrl: string, secret: string) {
  async function send(method: string, path: string, body?: string, headers: Record<string, string> = {}) {
    const response = await request(`${baseUrl}${path}`, {
      method: method as 'GET' | 'POST',
      headers,
      ...(body !== undefined && { body }),
    });
    const text = await response.body.text();
    return { status: response.statusCode, body: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
  }
  return {
    send,
    post: (action: string, payload: unknown) => {
      const body = typeof payload === 'string' ? payload : JSON.stringify(payload);
      return send('POST', `/v1/${action}`, body, {
        'content-type': 'application/json',
        [SIGNATURE_HEADER]: signatureHeader(secret, body),
      });
    },
    status: (requestId: string) => {
      const path = `/v1/operations/${encodeURIComponent(requestId)}`;
      return send('GET', path, undefined, { [SIGNATURE_HEADER]: signatureHeader(secret, `GET ${path}`) });
    },
    get: (path: string) =>
      send('GET', path, undefined, { [SIGNATURE_HEADER]: signatureHeader(secret, `GET ${path}`) }),
  };
}

export interface ReceivedCallback {
  body: string;
  signature: string;
  verified: boolean;
}

/** A caller's callback endpoint on 127.0.0.1: answers 500 to the first `failures` posts, then 200. */
export async function callbackReceiver(secret: string, failures = 0) {
  const received: ReceivedCallback[] = [];
  let refused = 0;
  const server: Server = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk) => {
      body += chunk;
    });
    req.on('end', () => {
      if (refused < failures) {
        refused++;
        res.writeHead(500).end();
        return;
      }
      const signature = req.headers[SIGNATURE_HEADER] as string;
      received.push({ body, signature, verified: verifySignature(signature, secret, body).ok });
      res.writeHead(200).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks/detach`,
    received,
    refusedCount: () => refused,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
