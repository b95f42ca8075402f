import type { Logger } from '@aws-lambda-powertools/logger';
import {
  DeleteMessageBatchCommand,
  type Message,
  ReceiveMessageCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import type { SQSEvent, SQSRecord } from 'aws-lambda';
import { invokeFunction } from './lambda-invoker.ts';
import { LOCAL_AWS } from './services.ts';

export interface BridgeTarget {
  queueUrl: string;
  queueArn: string;
  functionName: string;
}

/**
 * What Lambda's SQS event source mapping does, for local queues: long-poll, invoke with a batch, delete what
 * succeeded and leave the reported batch item failures (or the whole batch when the function threw) to come
 * back after the visibility timeout and, past maxReceiveCount, go to the DLQ. serverless-offline-sqs deletes
 * whole batches and ignores ReportBatchItemFailures, so it cannot be used.
 */
export class SqsBridge {
  readonly #client: SQSClient;
  #running = true;
  readonly #loops: Promise<void>[] = [];

  constructor(
    sqsUrl: string,
    private readonly lambdaUrl: string,
    private readonly logger: Logger,
  ) {
    this.#client = new SQSClient({ ...LOCAL_AWS, endpoint: sqsUrl });
  }

  start(targets: BridgeTarget[]): void {
    for (const target of targets) this.#loops.push(this.loop(target));
  }

  async stop(): Promise<void> {
    this.#running = false;
    await Promise.allSettled(this.#loops);
    this.#client.destroy();
  }

  private async loop(target: BridgeTarget): Promise<void> {
    while (this.#running) {
      try {
        await this.pollOnce(target);
      } catch (error) {
        if (this.#running) this.logger.warn('queue bridge pass failed', { queueUrl: target.queueUrl, error });
        await new Promise((resolve) => setTimeout(resolve, 500));
      }
    }
  }

  private async pollOnce(target: BridgeTarget): Promise<void> {
    const { Messages } = await this.#client.send(
      new ReceiveMessageCommand({
        QueueUrl: target.queueUrl,
        MaxNumberOfMessages: 10,
        WaitTimeSeconds: 1,
        MessageSystemAttributeNames: ['All'],
        MessageAttributeNames: ['All'],
      }),
    );
    if (!Messages?.length || !this.#running) return;
    const event: SQSEvent = { Records: Messages.map((message) => recordOf(message, target.queueArn)) };
    const result = await invokeFunction(this.lambdaUrl, target.functionName, event);
    if (result.functionError) {
      this.logger.warn('function failed the whole batch', {
        functionName: target.functionName,
        error: result.payload,
      });
      return;
    }
    const failed = new Set(
      (
        (result.payload as { batchItemFailures?: { itemIdentifier: string }[] } | undefined)
          ?.batchItemFailures ?? []
      ).map((failure) => failure.itemIdentifier),
    );
    const done = Messages.filter((message) => !failed.has(message.MessageId as string));
    if (done.length === 0) return;
    await this.#client.send(
      new DeleteMessageBatchCommand({
        QueueUrl: target.queueUrl,
        Entries: done.map((message, index) => ({
          Id: String(index),
          ReceiptHandle: message.ReceiptHandle as string,
        })),
      }),
    );
  }
}

/** The event source's record of a received message (also the local scheduler's, for the next-pass queue). */
export function recordOf(message: Message, queueArn: string): SQSRecord {
  const attributes = message.Attributes ?? {};
  return {
    messageId: message.MessageId as string,
    receiptHandle: message.ReceiptHandle as string,
    body: message.Body ?? '',
    attributes: {
      ApproximateReceiveCount: attributes.ApproximateReceiveCount ?? '1',
      SentTimestamp: attributes.SentTimestamp ?? String(Date.now()),
      SenderId: attributes.SenderId ?? 'local',
      ApproximateFirstReceiveTimestamp: attributes.ApproximateFirstReceiveTimestamp ?? String(Date.now()),
      ...(attributes.MessageGroupId && { MessageGroupId: attributes.MessageGroupId }),
      ...(attributes.MessageDeduplicationId && { MessageDeduplicationId: attributes.MessageDeduplicationId }),
      ...(attributes.SequenceNumber && { SequenceNumber: attributes.SequenceNumber }),
    },
    messageAttributes: {},
    md5OfBody: message.MD5OfBody ?? '',
    eventSource: 'aws:sqs',
    eventSourceARN: queueArn,
    awsRegion: LOCAL_AWS.region,
  };
}
