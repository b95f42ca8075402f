import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { CapturedRequest } from './capture-server.ts';

export interface ScriptedAnswer {
  status: number;
  body: unknown;
}

/**
 * An HTTP server on 127.0.0.1 that keeps every request and answers them in turn from a script (the last answer
 * repeats): a client's retries against a real socket, without any network.
 */
export async function scriptedServer(answers: readonly ScriptedAnswer[]) {
  const captured: CapturedRequest[] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk) => {
      body += chunk;
    });
    req.on('end', () => {
      captured.push({
        method: req.method ?? 'GET',
        url: req.url ?? '/',
        headers: req.headers as Record<string, string>,
        body,
      });
      const answer = answers[Math.min(captured.length, answers.length) - 1] as ScriptedAnswer;
      res.writeHead(answer.status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(answer.body));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`,
    captured,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
