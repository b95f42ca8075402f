import { ChangeMessageVisibilityCommand, type SQSClient } from '@aws-sdk/client-sqs';

/** arn:aws:sqs:<region>:<account>:<name> -> the queue URL (the SDK's endpoint, also a local one, takes over the host). */
export function queueUrlOf(queueArn: string): string {
  const [, partition, , region, account, name] = queueArn.split(':');
  const domain = partition === 'aws-cn' ? 'amazonaws.com.cn' : 'amazonaws.com';
  return `https://sqs.${region}.${domain}/${account}/${name}`;
}

/** Sets when a failed message comes back: the backoff of a retry is the message's visibility timeout. */
export class SqsRetryDelay {
  constructor(private readonly client: SQSClient) {}

  async delay(queueArn: string, receiptHandle: string, seconds: number): Promise<void> {
    await this.client.send(
      new ChangeMessageVisibilityCommand({
        QueueUrl: queueUrlOf(queueArn),
        ReceiptHandle: receiptHandle,
        VisibilityTimeout: Math.min(43_200, Math.max(0, Math.round(seconds))),
      }),
    );
  }
}
