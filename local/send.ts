import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { DynamoDbLedger } from '../shared/ledger/dynamodb-ledger.ts';
import { CliError, EXIT, exitCodeOf, isFinal, parseRequest, runCli } from './cli.ts';
import { stackResources } from './resources.ts';
import { LOCAL_AWS } from './services.ts';
import { localEndpoints } from './stack-file.ts';

/**
 * Enqueues one request on the local stack (npm start) and follows its ledger record to the completion event.
 *   npm run send -- <action> '<request JSON>' [--no-follow]
 * Exit status: 0 Succeeded or DryRun, 1 any other end (or gave up waiting), 2 usage, a request the contract
 * refuses, or the stack not running.
 */
const resources = stackResources('local');
const USAGE = `usage: npm run send -- <${resources.queues.map((q) => q.action).join('|')}> '<request JSON>' [--no-follow]`;
const endpoints = localEndpoints();

await runCli(async () => {
  const { positionals, values } = parseCommandLine();
  const { action, request } = parseRequest(positionals[0], positionals[1], USAGE);
  const binding = resources.queues.find((q) => q.action === action);
  if (!binding) throw new CliError('UnknownAction', USAGE);
  const sqs = new SQSClient({ ...LOCAL_AWS, endpoint: endpoints.sqs, maxAttempts: 1 });
  await sqs.send(
    new SendMessageCommand({
      QueueUrl: `${endpoints.sqs}/000000000000/${binding.queueName}`,
      // The text as given, so that what the function reads is what the user typed.
      MessageBody: positionals[1] as string,
      MessageGroupId: `${request.provider}:${request.region}:${request.scalingGroupId}`,
      MessageDeduplicationId: request.requestId,
    }),
  );
  sqs.destroy();
  process.stdout.write(`queued ${request.requestId}\n`);
  if (values['no-follow']) return EXIT.succeeded;
  return follow(request.requestId);
}, `cannot reach the local stack at ${endpoints.sqs}: start it with npm start (in another terminal)`);

function parseCommandLine() {
  try {
    return parseArgs({
      allowPositionals: true,
      options: { 'no-follow': { type: 'boolean', default: false } },
    });
  } catch (error) {
    throw new CliError('Usage', `${(error as Error).message}\n${USAGE}`);
  }
}

async function follow(requestId: string): Promise<number> {
  const ledger = new DynamoDbLedger(
    new DynamoDBClient({ ...LOCAL_AWS, endpoint: endpoints.dynamodb, maxAttempts: 1 }),
    resources.ledgerTable,
  );
  let last = '';
  for (let i = 0; i < 600; i++) {
    const record = await ledger.get(requestId);
    const line = record
      ? `${record.status}${record.activityId ? ` activity ${record.activityId}` : ''}`
      : 'QUEUED (not yet read)';
    if (line !== last) process.stdout.write(`${new Date().toISOString()} ${line}\n`);
    last = line;
    if (record?.event && record.eventPublishedAt && isFinal(record.status)) {
      process.stdout.write(`completion event:\n${JSON.stringify(record.event, null, 2)}\n`);
      return exitCodeOf(record.event.status);
    }
    await sleep(500);
  }
  process.stderr.write(
    'gave up waiting after 5 minutes (the request may still end; sending it again does nothing new)\n',
  );
  return EXIT.otherEnd;
}
