import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { DynamoDbLedger } from '../shared/ledger/dynamodb-ledger.ts';
import { stackResources } from './resources.ts';
import { LOCAL_AWS } from './services.ts';
import { DEFAULT_PORTS } from './stack.ts';

/** Enqueues one request on the local stack (npm start) and follows its ledger record to the terminal event. */
const { positionals, values } = parseArgs({
  allowPositionals: true,
  options: { 'no-follow': { type: 'boolean', default: false } },
});
const [action, json] = positionals;
const resources = stackResources('local');
const binding = resources.queues.find((q) => q.action === action);
if (!binding || !json) {
  process.stderr.write(
    `usage: npm run send -- <${resources.queues.map((q) => q.action).join('|')}> '<request JSON>'\n`,
  );
  process.exit(2);
}
const body = JSON.parse(json) as {
  requestId: string;
  provider?: string;
  region?: string;
  scalingGroupId?: string;
};
const sqs = new SQSClient({ ...LOCAL_AWS, endpoint: `http://127.0.0.1:${DEFAULT_PORTS.sqs}` });
await sqs.send(
  new SendMessageCommand({
    QueueUrl: `http://127.0.0.1:${DEFAULT_PORTS.sqs}/000000000000/${binding.queueName}`,
    MessageBody: json,
    MessageGroupId: `${body.provider}:${body.region}:${body.scalingGroupId}`,
    MessageDeduplicationId: body.requestId,
  }),
);
process.stdout.write(`queued ${body.requestId}\n`);
if (values['no-follow']) process.exit(0);

const ledger = new DynamoDbLedger(
  new DynamoDBClient({ ...LOCAL_AWS, endpoint: `http://127.0.0.1:${DEFAULT_PORTS.dynamodb}` }),
  resources.ledgerTable,
);
let last = '';
for (let i = 0; i < 600; i++) {
  const record = await ledger.get(body.requestId);
  const line = record
    ? `${record.status}${record.activityId ? ` activity ${record.activityId}` : ''}`
    : 'QUEUED (not yet read)';
  if (line !== last) process.stdout.write(`${new Date().toISOString()} ${line}\n`);
  last = line;
  if (record?.event && record.eventPublishedAt) {
    process.stdout.write(`completion event:\n${JSON.stringify(record.event, null, 2)}\n`);
    process.exit(0);
  }
  await sleep(500);
}
process.stderr.write('gave up waiting after 5 minutes\n');
process.exit(1);
