import { randomBytes } from 'node:crypto';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import {
  CreateQueueCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  SendMessageCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import type { Context, SQSEvent } from 'aws-lambda';
import { describe, expect, inject, it } from 'vitest';
import { createLedgerTable } from '../local/services.ts';
import { DynamoDbLedger } from '../shared/ledger/dynamodb-ledger.ts';
import { EMULATOR_KEY, uniqueId } from '../support/emulator-admin.ts';

/**
 * Issue #17 defect 7: a request function starts a record only while one worst-case dispatch still fits before
 * its timeout, and reports the records it had no time for as batch item failures that come back at once. The
 * real handler, in this process (so the test sets what Lambda's context says is left), over fauxqs and
 * DynamoDB Local.
 */
const stack = inject('stack');

describe('request functions near their timeout (#17 defect 7)', () => {
  it('stop taking records once a worst-case dispatch no longer fits; those come back at once, not counted as failed', async () => {
    const tableName = `ledger-${randomBytes(5).toString('hex')}`;
    await createLedgerTable(stack.endpoints.dynamodb, tableName);
    Object.assign(process.env, {
      LEDGER_TABLE: tableName,
      EVENT_BUS_NAME: stack.resources.eventBusName,
      ALIYUN_ACCESS_KEY_ID: EMULATOR_KEY.accessKeyId,
      ALIYUN_ACCESS_KEY_SECRET: EMULATOR_KEY.accessKeySecret,
      ESS_ENDPOINT: stack.endpoints.emulator,
      AWS_REGION: stack.aws.region,
      AWS_ACCESS_KEY_ID: stack.aws.credentials.accessKeyId,
      AWS_SECRET_ACCESS_KEY: stack.aws.credentials.secretAccessKey,
      AWS_ENDPOINT_URL_DYNAMODB: stack.endpoints.dynamodb,
      AWS_ENDPOINT_URL_SQS: stack.endpoints.sqs,
      AWS_ENDPOINT_URL_EVENTBRIDGE: stack.endpoints.eventBridge,
    });
    const { createRequestHandler } = await import('../functions/sqs-request-handler.ts');
    const handler = createRequestHandler('detach-instances');
    // A queue of its own, bridged to nothing: the test receives its messages and hands them to the handler.
    const sqs = new SQSClient({ ...stack.aws, endpoint: stack.endpoints.sqs });
    const { QueueUrl } = await sqs.send(
      new CreateQueueCommand({
        QueueName: `${uniqueId('deadline')}.fifo`,
        Attributes: { FifoQueue: 'true', VisibilityTimeout: '300' },
      }),
    );
    const { Attributes } = await sqs.send(
      new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ['QueueArn'] }),
    );
    const requests = [0, 1, 2].map((i) => ({
      requestId: uniqueId('req'),
      provider: 'aliyun',
      region: 'cn-hangzhou',
      scalingGroupId: uniqueId('asg'),
      instanceIds: [`i-${i}`],
      dryRun: true,
    }));
    for (const request of requests)
      await sqs.send(
        new SendMessageCommand({
          QueueUrl,
          MessageBody: JSON.stringify(request),
          MessageGroupId: request.scalingGroupId,
          MessageDeduplicationId: request.requestId,
        }),
      );
    const received = await sqs.send(
      new ReceiveMessageCommand({ QueueUrl, MaxNumberOfMessages: 10, MessageSystemAttributeNames: ['All'] }),
    );
    const messages = received.Messages ?? [];
    const event: SQSEvent = {
      Records: messages.map((message) => ({
        messageId: message.MessageId as string,
        receiptHandle: message.ReceiptHandle as string,
        body: message.Body as string,
        attributes: {
          ApproximateReceiveCount: message.Attributes?.ApproximateReceiveCount ?? '1',
          SentTimestamp: '0',
          SenderId: 'test',
          ApproximateFirstReceiveTimestamp: '0',
        },
        messageAttributes: {},
        md5OfBody: '',
        eventSource: 'aws:sqs',
        eventSourceARN: Attributes?.QueueArn as string,
        awsRegion: stack.aws.region,
      })),
    };
    // 90 s left when the first record is looked at; then less than one worst-case dispatch (67 s).
    let asked = 0;
    const context = {
      functionName: 'detachInstances',
      functionVersion: '$LATEST',
      invokedFunctionArn: 'arn:aws:lambda:eu-west-1:000000000000:function:detachInstances',
      memoryLimitInMB: '512',
      awsRequestId: uniqueId('invocation'),
      getRemainingTimeInMillis: () => (asked++ === 0 ? 90_000 : 60_000),
    } as unknown as Context;

    const answer = await handler(event, context);

    expect(messages.map((m) => JSON.parse(m.Body as string).requestId)).toEqual(
      requests.map((r) => r.requestId),
    );
    const notReached = messages.slice(1).map((m) => ({ itemIdentifier: m.MessageId }));
    expect(answer).toEqual({ batchItemFailures: notReached });
    const ledger = new DynamoDbLedger(
      new DynamoDBClient({ ...stack.aws, endpoint: stack.endpoints.dynamodb }),
      tableName,
    );
    const [first, ...rest] = await Promise.all(requests.map((r) => ledger.get(r.requestId)));
    expect(first?.status).toBe('DRY_RUN');
    // Not started: no record, not Rejected, not given up.
    expect(rest).toEqual([undefined, undefined]);
    // Visible again at once (the queue's visibility timeout is 300 s).
    const again = await sqs.send(
      new ReceiveMessageCommand({ QueueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1 }),
    );
    expect((again.Messages ?? []).map((m) => m.MessageId).sort()).toEqual(
      notReached.map((failure) => failure.itemIdentifier).sort(),
    );
  });
});
