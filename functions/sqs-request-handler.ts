import { BatchProcessor, EventType, processPartialResponse } from '@aws-lambda-powertools/batch';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import { captureLambdaHandler } from '@aws-lambda-powertools/tracer/middleware';
import middy from '@middy/core';
import type { Context, SQSEvent, SQSRecord } from 'aws-lambda';
import { composeRequestFunction } from '../shared/composition.ts';
import type { Action } from '../shared/contracts/index.ts';
import { giveUpDelivery } from '../shared/detach/rejection.ts';
import { retryDelaySeconds } from '../shared/detach/retry.ts';
import { submitRequest } from '../shared/detach/submit.ts';
import { logger, metrics, tracer } from '../shared/observability.ts';
import { deliveryOf } from './sqs-delivery.ts';

/**
 * The Lambda handler of one action's FIFO queue: each record is one request, put on the ledger in its group and
 * dispatched. Every record is tried on its own (the ledger, not the queue, orders a group's requests), so one
 * that fails never costs its neighbours a delivery. A record that fails is delayed and reported as a batch item
 * failure; on its last allowed delivery it ends Rejected (Unprocessable) instead of slipping into the DLQ. What
 * reaches a DLQ all the same (a crash, a write that kept failing) is ended by functions/dead-letter.
 */
export function createRequestHandler(action: Action) {
  const { config, retryDelay, ...deps } = composeRequestFunction();
  const processor = new BatchProcessor(EventType.SQS);

  async function handleRecord(record: SQSRecord): Promise<void> {
    const delivery = deliveryOf(record);
    logger.appendKeys({ action, messageId: record.messageId, receiveCount: delivery.receiveCount });
    try {
      const outcome = await submitRequest(deps, action, delivery);
      logger.setCorrelationId(outcome.requestId);
      if (outcome.kind === 'conflict') logger.warn('request id already names another request', { outcome });
      else logger.info('request handled', { outcome });
      metrics.addMetric(`Request.${outcome.kind}`, MetricUnit.Count, 1);
    } catch (error) {
      const reason = error instanceof Error ? error.name : 'Error';
      if (delivery.receiveCount >= config.MAX_DELIVERIES) {
        const given = await giveUpDelivery(deps, { action, ...delivery, reason }).catch(
          (giveUpError: unknown) => {
            // Not even a Rejected record could be written: the message goes to the DLQ, seen here, not silently.
            logger.error('request lost to the DLQ: it could not be recorded', { reason });
            metrics.addMetric('Request.deadLettered', MetricUnit.Count, 1);
            throw giveUpError;
          },
        );
        logger.error('request given up after its last delivery', { given, reason });
        metrics.addMetric('Request.unprocessable', MetricUnit.Count, 1);
        return;
      }
      logger.warn('request not handled; its message comes back', { reason });
      const delay = retryDelaySeconds('transient', delivery.receiveCount, deps.retry);
      await retryDelay
        .delay(record.eventSourceARN, record.receiptHandle, delay)
        .catch(() => logger.warn('retry delay not set', { reason }));
      throw error;
    } finally {
      logger.removeKeys(['action', 'messageId', 'receiveCount']);
    }
  }

  /**
   * A record the invocation has no time left for: it is not started, since a timeout in the middle of it would
   * skip its last-delivery path. It is reported as a batch item failure made visible again at once, and never
   * counted as a failed processing: no backoff, no give-up, no `Request.*` outcome.
   */
  async function notReached(record: SQSRecord): Promise<void> {
    metrics.addMetric('Request.notReached', MetricUnit.Count, 1);
    await retryDelay
      .delay(record.eventSourceARN, record.receiptHandle, 0)
      .catch(() => logger.warn('record not reached; it comes back after the visibility timeout'));
    throw new NotReached();
  }

  return middy((event: SQSEvent, context: Context) =>
    // One after another: records of one group then find its dispatcher free or busy in order, and the
    // logger's per-record keys do not mix. A record is started only while one worst-case dispatch (the lease:
    // four cloud calls and the writes around them) still fits before the function's timeout.
    processPartialResponse(
      event,
      (record: SQSRecord) =>
        context.getRemainingTimeInMillis() > deps.leaseMs ? handleRecord(record) : notReached(record),
      processor,
      { context, throwOnFullBatchFailure: false, processInParallel: false },
    ),
  )
    .use(injectLambdaContext(logger, { resetKeys: true }))
    .use(captureLambdaHandler(tracer, { captureResponse: false }))
    .use(logMetrics(metrics));
}

class NotReached extends Error {
  override name = 'NotReached';
}
