/**
 * One process of the chaos run (bench/chaos.ts), which kills and restarts it: `functions` consumes the request
 * queues as Lambda's SQS event source does and runs the real queue handlers, and serves the real webhook handler
 * over HTTP; `poller` runs the real poller handler on a timer. Configuration comes from the environment, as in
 * a deployed function.
 */
import { createServer } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { DeleteMessageBatchCommand, ReceiveMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import type { APIGatewayProxyEventV2, Context, SQSEvent } from 'aws-lambda';

const role = process.argv[2];
const context = {
  functionName: `chaos-${role}`,
  awsRequestId: 'chaos',
  getRemainingTimeInMillis: () => 60_000,
} as unknown as Context;

async function runFunctions(): Promise<void> {
  const queues = JSON.parse(process.env.REQUEST_QUEUE_URLS ?? '{}') as Record<string, string>;
  const arns = JSON.parse(process.env.CHAOS_QUEUE_ARNS ?? '{}') as Record<string, string>;
  const sqs = new SQSClient({ useQueueUrlAsEndpoint: false });
  const handlers = {
    'detach-instances': (await import('../functions/detach-instances/handler.ts')).handler,
    'remove-instances': (await import('../functions/remove-instances/handler.ts')).handler,
  } as Record<
    string,
    (event: SQSEvent, context: Context) => Promise<{ batchItemFailures: { itemIdentifier: string }[] }>
  >;
  const webhook = (await import('../functions/webhook/handler.ts')).handler as unknown as (
    event: APIGatewayProxyEventV2,
    context: Context,
  ) => Promise<{ statusCode: number; body: string }>;
  const server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const answer = await webhook(
      {
        rawPath: url.pathname,
        rawQueryString: '',
        headers: Object.fromEntries(Object.entries(req.headers).map(([k, v]) => [k, String(v)])),
        body: Buffer.concat(chunks).toString('utf8'),
        isBase64Encoded: false,
        requestContext: { http: { method: req.method ?? 'GET', path: url.pathname }, requestId: 'chaos' },
      } as unknown as APIGatewayProxyEventV2,
      context,
    );
    res.writeHead(answer.statusCode, { 'content-type': 'application/json' }).end(answer.body);
  });
  server.listen(Number(process.env.CHAOS_WEBHOOK_PORT), '127.0.0.1');
  await Promise.all(
    Object.entries(handlers).map(async ([action, handler]) => {
      for (;;) {
        const { Messages } = await sqs.send(
          new ReceiveMessageCommand({
            QueueUrl: queues[action],
            MaxNumberOfMessages: 10,
            WaitTimeSeconds: 1,
            MessageSystemAttributeNames: ['All'],
          }),
        );
        if (!Messages?.length) continue;
        const event: SQSEvent = {
          Records: Messages.map((m) => ({
            messageId: m.MessageId as string,
            receiptHandle: m.ReceiptHandle as string,
            body: m.Body ?? '',
            attributes: { ApproximateReceiveCount: m.Attributes?.ApproximateReceiveCount ?? '1' },
            eventSourceARN: arns[action],
          })) as unknown as SQSEvent['Records'],
        };
        const result = await handler(event, context);
        const failed = new Set(result.batchItemFailures.map((f) => f.itemIdentifier));
        const done = Messages.filter((m) => !failed.has(m.MessageId as string));
        if (done.length > 0)
          await sqs.send(
            new DeleteMessageBatchCommand({
              QueueUrl: queues[action],
              Entries: done.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle as string })),
            }),
          );
      }
    }),
  );
}

async function runPoller(): Promise<void> {
  const { handler } = (await import('../functions/poll-activities/handler.ts')) as unknown as {
    handler: (event: unknown, context: Context) => Promise<unknown>;
  };
  for (;;) {
    await handler({}, context);
    await sleep(1000);
  }
}

await (role === 'poller' ? runPoller() : runFunctions());
