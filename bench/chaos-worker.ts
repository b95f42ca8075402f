/**
 * One process of the chaos run (bench/chaos.ts), which kills and restarts it. Roles:
 * - `queue:<action>`: consumes that action's request queue as Lambda's SQS event source does (batches of up to
 *   10, batch item failures honoured) and runs the real handler;
 * - `webhook`: serves the real webhook handler over HTTP;
 * - `poller`: runs the real poller handler, one invocation after another.
 *
 * Each invocation has a deadline, as on Lambda: its context's `getRemainingTimeInMillis()` counts down from
 * CHAOS_FUNCTION_TIMEOUT_MS (the poller: CHAOS_POLLER_TIMEOUT_MS), and an invocation still running at its
 * deadline ends the whole process with exit status 124, what Lambda does to a function that times out (its
 * execution environment is reset; the messages of the batch come back after their visibility timeout). The
 * runner restarts it. Configuration comes from the environment, as in a deployed function.
 */
import { randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { DeleteMessageBatchCommand, ReceiveMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import type { APIGatewayProxyEventV2, Context, SQSEvent } from 'aws-lambda';

/** Read by bench/chaos.ts: the exit status of a process whose invocation timed out. */
const FUNCTION_TIMED_OUT = 124;

const role = process.argv[2] ?? '';

/** Runs one invocation under its deadline; past it, the process dies as a timed-out Lambda environment does. */
async function invoke<T>(timeoutMs: number, run: (context: Context) => Promise<T>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  const context = {
    functionName: `chaos-${role}`,
    awsRequestId: randomUUID(),
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
  } as unknown as Context;
  const timedOut = () => {
    process.stderr.write(`chaos-worker ${role}: an invocation passed its ${timeoutMs} ms timeout\n`);
    process.exit(FUNCTION_TIMED_OUT);
  };
  const timer = setTimeout(timedOut, timeoutMs);
  try {
    return await run(context);
  } catch (error) {
    // middy answers a TimeoutError just before the deadline (timeoutEarlyInMillis) while the handler's work goes
    // on: that invocation timed out, and its work must stop with it.
    if ((error as { cause?: { package?: string } }).cause?.package === '@middy/core') timedOut();
    throw error;
  } finally {
    clearTimeout(timer);
  }
}

const functionTimeoutMs = Number(process.env.CHAOS_FUNCTION_TIMEOUT_MS ?? 30_000);
const pollerTimeoutMs = Number(process.env.CHAOS_POLLER_TIMEOUT_MS ?? 60_000);

type RequestHandler = (
  event: SQSEvent,
  context: Context,
) => Promise<{ batchItemFailures: { itemIdentifier: string }[] }>;

const HANDLERS: Record<string, () => Promise<RequestHandler>> = {
  'detach-instances': async () => (await import('../functions/detach-instances/handler.ts')).handler,
  'remove-instances': async () => (await import('../functions/remove-instances/handler.ts')).handler,
  'detach-vserver-groups': async () =>
    (await import('../functions/detach-vserver-groups/handler.ts')).handler as unknown as RequestHandler,
  'detach-alb-server-groups': async () =>
    (await import('../functions/detach-alb-server-groups/handler.ts')).handler as unknown as RequestHandler,
};

async function consumeQueue(action: string): Promise<void> {
  const queueUrl = (JSON.parse(process.env.REQUEST_QUEUE_URLS ?? '{}') as Record<string, string>)[action];
  const queueArn = (JSON.parse(process.env.CHAOS_QUEUE_ARNS ?? '{}') as Record<string, string>)[action];
  const load = HANDLERS[action];
  if (!queueUrl || !queueArn || !load) throw new Error(`no queue or handler for ${action}`);
  const handler = (await load()) as RequestHandler;
  const sqs = new SQSClient({ useQueueUrlAsEndpoint: false });
  for (;;) {
    const { Messages } = await sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: queueUrl,
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
        eventSourceARN: queueArn,
      })) as unknown as SQSEvent['Records'],
    };
    // A handler that throws fails its whole batch, as on Lambda: every message comes back.
    const result = await invoke(functionTimeoutMs, (context) => handler(event, context)).catch(
      (error: unknown) => {
        process.stderr.write(`chaos-worker ${role}: the handler threw ${String(error)}\n`);
        return { batchItemFailures: Messages.map((m) => ({ itemIdentifier: m.MessageId as string })) };
      },
    );
    const failed = new Set(result.batchItemFailures.map((f) => f.itemIdentifier));
    const done = Messages.filter((m) => !failed.has(m.MessageId as string));
    if (done.length > 0)
      await sqs.send(
        new DeleteMessageBatchCommand({
          QueueUrl: queueUrl,
          Entries: done.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle as string })),
        }),
      );
  }
}

async function serveWebhook(): Promise<void> {
  const webhook = (await import('../functions/webhook/handler.ts')).handler as unknown as (
    event: APIGatewayProxyEventV2,
    context: Context,
  ) => Promise<{ statusCode: number; body: string }>;
  const server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const answer = await invoke(
      functionTimeoutMs,
      (context) =>
        webhook(
          {
            rawPath: url.pathname,
            rawQueryString: '',
            headers: Object.fromEntries(Object.entries(req.headers).map(([k, v]) => [k, String(v)])),
            body: Buffer.concat(chunks).toString('utf8'),
            isBase64Encoded: false,
            requestContext: { http: { method: req.method ?? 'GET', path: url.pathname }, requestId: 'chaos' },
          } as unknown as APIGatewayProxyEventV2,
          context,
        ),
      // A failed invocation: API Gateway answers 502, and the process goes on.
    ).catch(() => ({ statusCode: 502, body: '{"message":"Internal Server Error"}' }));
    res.writeHead(answer.statusCode, { 'content-type': 'application/json' }).end(answer.body);
  });
  server.listen(Number(process.env.CHAOS_WEBHOOK_PORT), '127.0.0.1');
}

async function runPoller(): Promise<void> {
  const { handler } = (await import('../functions/poll-activities/handler.ts')) as unknown as {
    handler: (event: unknown, context: Context) => Promise<unknown>;
  };
  for (;;) {
    // A failed invocation is retried by the schedule: the next one starts as usual.
    await invoke(pollerTimeoutMs, (context) => handler({}, context)).catch((error: unknown) => {
      process.stderr.write(`chaos-worker ${role}: the handler threw ${String(error)}\n`);
    });
    await sleep(1000);
  }
}

if (role === 'poller') await runPoller();
else if (role === 'webhook') await serveWebhook();
else if (role.startsWith('queue:')) await consumeQueue(role.slice('queue:'.length));
else throw new Error(`unknown role ${role}`);
