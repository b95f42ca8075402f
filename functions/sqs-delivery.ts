import type { SQSRecord } from 'aws-lambda';
import type { Delivery } from '../shared/detach/submit.ts';

/** The domain's view of one SQS record. A body that is not JSON is passed on as text and rejected there. */
export function deliveryOf(record: SQSRecord): Delivery {
  let body: unknown;
  try {
    body = JSON.parse(record.body);
  } catch {
    body = record.body;
  }
  return {
    body,
    messageId: record.messageId,
    receiveCount: Number(record.attributes.ApproximateReceiveCount) || 1,
  };
}
