import { BatchProcessor, EventType, processPartialResponse } from '@aws-lambda-powertools/batch';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import { captureLambdaHandler } from '@aws-lambda-powertools/tracer/middleware';
import middy from '@middy/core';
import type { Context, SQSEvent, SQSRecord } from 'aws-lambda';
import { composeDeadLetter } from '../../shared/composition.ts';
import { ACTIONS, type Action } from '../../shared/contracts/index.ts';
import { endDeadLetter } from '../../shared/detach/rejection.ts';
import { logger, metrics, tracer } from '../../shared/observability.ts';
import { deliveryOf } from '../sqs-delivery.ts';

const { config: _config, ...deps } = composeDeadLetter();
const processor = new BatchProcessor(EventType.SQS);

/** The action whose DLQ a record comes from (`...-<action>-dlq.fifo`, serverless.yml). */
export const actionOfQueue = (queueArn: string): Action | undefined =>
  ACTIONS.find((action) => queueArn.endsWith(`-${action}-dlq.fifo`));

async function handleRecord(record: SQSRecord): Promise<void> {
  const action = actionOfQueue(record.eventSourceARN);
  // Not one of ours: it stays in its queue, where the DLQ alarm sees it.
  if (!action) throw new Error('A dead letter from a queue of no known action');
  const ended = await endDeadLetter(deps, { action, ...deliveryOf(record) });
  logger.error('message dead-lettered', { action, messageId: record.messageId, ended });
  metrics.addMetric('DeadLetter.Received', MetricUnit.Count, 1);
  metrics.addMetric(
    ended.kind === 'dead-lettered' ? 'Request.deadLettered' : 'DeadLetter.OnLedger',
    MetricUnit.Count,
    1,
  );
}

/**
 * Subscribed to every request queue's DLQ: a message its queue gave up on (failed on every delivery, or cut off
 * by the function's timeout before its last-delivery path ran) ends in a `DeadLettered` record and event, unless
 * its request is on the ledger already, where the poller sees it through. A record that fails here comes back.
 */
export const handler = middy((event: SQSEvent, context: Context) =>
  processPartialResponse(event, handleRecord, processor, { context, throwOnFullBatchFailure: false }),
)
  .use(injectLambdaContext(logger, { resetKeys: true }))
  .use(captureLambdaHandler(tracer, { captureResponse: false }))
  .use(logMetrics(metrics));
