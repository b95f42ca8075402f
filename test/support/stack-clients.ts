import { setTimeout as sleep } from 'node:timers/promises';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { inject } from 'vitest';
import { groupKeyOf } from '../../shared/detach/dispatch.ts';
import type { StoredRecord } from '../../shared/detach/ports.ts';
import { DynamoDbLedger } from '../../shared/ledger/dynamodb-ledger.ts';
import { EmulatorAdmin } from '../../support/emulator-admin.ts';

/** Clients of the local stack that test/global-setup.ts started. */
export function stackClients() {
  const stack = inject('stack');
  const sqs = new SQSClient({ ...stack.aws, endpoint: stack.endpoints.sqs });
  const dynamodb = new DynamoDBClient({ ...stack.aws, endpoint: stack.endpoints.dynamodb });
  const ledger = new DynamoDbLedger(dynamodb, stack.resources.ledgerTable);
  const admin = new EmulatorAdmin(stack.endpoints.emulator);

  const queueOf = (action: string) => {
    const queue = stack.queues[action];
    if (!queue) throw new Error(`no queue for ${action}`);
    return queue;
  };

  /** Enqueues a request body as a producer does: group per scaling group, deduplicated by request id. */
  async function send(
    action: string,
    body: unknown,
    options: { groupId?: string; deduplicationId?: string } = {},
  ) {
    const request = body as {
      requestId?: string;
      provider?: string;
      region?: string;
      scalingGroupId?: string;
      account?: string;
    };
    const raw = typeof body === 'string' ? body : JSON.stringify(body);
    const { MessageId } = await sqs.send(
      new SendMessageCommand({
        QueueUrl: queueOf(action).queueUrl,
        MessageBody: raw,
        MessageGroupId:
          options.groupId ??
          // A body without these parts still goes out (the function is what refuses it).
          groupKeyOf({
            provider: String(request.provider),
            region: String(request.region),
            scalingGroupId: String(request.scalingGroupId),
            account: request.account,
          }),
        MessageDeduplicationId:
          options.deduplicationId ?? request.requestId ?? `${Date.now()}-${Math.random()}`,
      }),
    );
    return MessageId as string;
  }

  /** Polls the ledger until the record satisfies `done`; fails with the last record seen. */
  async function waitForRecord(
    requestId: string,
    done: (record: StoredRecord) => boolean,
    timeoutMs = 30_000,
  ): Promise<StoredRecord> {
    const deadline = Date.now() + timeoutMs;
    let last: StoredRecord | undefined;
    while (Date.now() < deadline) {
      last = await ledger.get(requestId);
      if (last && done(last)) return last;
      await sleep(200);
    }
    throw new Error(
      `record ${requestId} did not reach the expected state; last seen: ${JSON.stringify(last)}`,
    );
  }

  /** The completion event came back through the bus (functions/record-delivery), and was published once. */
  const delivered = (record: StoredRecord) =>
    record.eventPublishedAt !== undefined && (record.deliveredEvents ?? 0) >= 1;

  return { stack, sqs, dynamodb, ledger, admin, send, waitForRecord, delivered };
}
