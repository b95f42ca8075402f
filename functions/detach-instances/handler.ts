import { processPartialResponse, SqsFifoPartialProcessorAsync } from '@aws-lambda-powertools/batch';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import middy from '@middy/core';
import type { Context, SQSEvent, SQSRecord } from 'aws-lambda';
import { compose } from '../../shared/composition.ts';
import { submitDetachInstances } from '../../shared/detach/submit.ts';
import { logger, metrics } from '../../shared/observability.ts';
import { deliveryOf } from '../sqs-delivery.ts';

const { config, ...deps } = compose();
const submitDeps = { ...deps, maxAttempts: config.MAX_ATTEMPTS };
const processor = new SqsFifoPartialProcessorAsync();

async function handleRecord(record: SQSRecord): Promise<void> {
  const delivery = deliveryOf(record);
  logger.appendKeys({ messageId: record.messageId, receiveCount: delivery.receiveCount });
  try {
    // A retryable failure throws out of here and becomes this record's batch item failure.
    const outcome = await submitDetachInstances(submitDeps, delivery);
    logger.setCorrelationId(outcome.requestId);
    logger.info('detach request handled', { outcome });
    metrics.addMetric(`DetachInstances.${outcome.kind}`, MetricUnit.Count, 1);
  } finally {
    logger.removeKeys(['messageId', 'receiveCount']);
  }
}

export const handler = middy((event: SQSEvent, context: Context) =>
  processPartialResponse(event, handleRecord, processor, {
    context,
    skipGroupOnError: true,
    throwOnFullBatchFailure: false,
  }),
)
  .use(injectLambdaContext(logger, { resetKeys: true }))
  .use(logMetrics(metrics));
