import { SendMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import type { Action, DetachRequest } from '../contracts/index.ts';
import { groupKeyOf } from '../detach/dispatch.ts';
import type { RequestQueue } from '../detach/intake.ts';

/** The RequestQueue port on the actions' SQS FIFO queues, written as any producer writes them. */
export class SqsRequestQueue implements RequestQueue {
  constructor(
    private readonly client: SQSClient,
    private readonly queueUrls: Readonly<Partial<Record<Action, string>>>,
  ) {}

  async enqueue(action: Action, request: DetachRequest): Promise<void> {
    const queueUrl = this.queueUrls[action];
    if (!queueUrl) throw new Error(`No queue is configured for ${action}`);
    await this.client.send(
      new SendMessageCommand({
        QueueUrl: queueUrl,
        MessageBody: JSON.stringify(request),
        MessageGroupId: groupKeyOf(request),
        MessageDeduplicationId: request.requestId,
      }),
    );
  }
}
