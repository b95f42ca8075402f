import { processPartialResponse, SqsFifoPartialProcessorAsync } from '@aws-lambda-powertools/batch';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import { captureLambdaHandler } from '@aws-lambda-powertools/tracer/middleware';
import middy from '@middy/core';
import type { Context, SQSEvent, SQSRecord } from 'aws-lambda';
import { compose } from '../shared/composition.ts';
import type { Action } from '../shared/contracts/index.ts';
import { RetryLater, submitRequest } from '../shared/detach/submit.ts';
import { logger, metrics, tracer } from '../shared/observability.ts';
import { deliveryOf } from './sqs-delivery.ts';

/**
 * The Lambda handler of one action's FIFO queue: each record is one request, taken to the cloud or to its
 * terminal event. A retryable failure is delayed (visibility) and reported as a batch item failure.
 */
export function createRequestHandler(action: Action) {
  const { config: _config, retryDelay, ...submitDeps } = compose();
  const processor = new SqsFifoPartialProcessorAsync();

  async function handleRecord(record: SQSRecord): Promise<void> {
    const delivery = deliveryOf(record);
    logger.appendKeys({ action, messageId: record.messageId, receiveCount: delivery.receiveCount });
    try {
      const outcome = await submitRequest(submitDeps, action, delivery);
      logger.setCorrelationId(outcome.requestId);
      logger.info('request handled', { outcome });
      metrics.addMetric(`Request.${outcome.kind}`, MetricUnit.Count, 1);
    } catch (error) {
      if (error instanceof RetryLater) {
        logger.setCorrelationId(error.requestId);
        logger.info('request will be retried', {
          error: error.error.toJSON(),
          delaySeconds: error.delaySeconds,
        });
        metrics.addMetric(`Request.retry.${error.error.kind}`, MetricUnit.Count, 1);
        // Without the delay the message still comes back, after the queue's visibility timeout.
        await retryDelay
          .delay(record.eventSourceARN, record.receiptHandle, error.delaySeconds)
          .catch((delayError: unknown) => logger.warn('retry delay not set', { error: delayError }));
      }
      throw error;
    } finally {
      logger.removeKeys(['action', 'messageId', 'receiveCount']);
    }
  }

  return middy((event: SQSEvent, context: Context) =>
    processPartialResponse(event, handleRecord, processor, {
      context,
      skipGroupOnError: true,
      throwOnFullBatchFailure: false,
    }),
  )
    .use(injectLambdaContext(logger, { resetKeys: true }))
    .use(captureLambdaHandler(tracer, { captureResponse: false }))
    .use(logMetrics(metrics));
}
