import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import { captureLambdaHandler } from '@aws-lambda-powertools/tracer/middleware';
import middy from '@middy/core';
import type { EventBridgeEvent } from 'aws-lambda';
import { composeRecordDelivery } from '../../shared/composition.ts';
import { CompletionEvent } from '../../shared/contracts/index.ts';
import { logger, metrics, tracer } from '../../shared/observability.ts';

const { ledger } = composeRecordDelivery();

/**
 * Subscribed to our own completion events on the bus: writes on the ledger record that its event reached the
 * bus and was delivered to a rule target, so the status of a request shows the whole path. Every request's one
 * event passes here, so here are the per-status counts (`Completion.<Status>`, `Completion.All`) that the
 * dashboard shows and the failure-rate alarm divides. Delivery is at least once: a repeated event id counts
 * as a duplicate delivery, not as a second event (nor a second count).
 */
export const handler = middy(async (event: EventBridgeEvent<string, unknown>) => {
  const detail = CompletionEvent.parse(event.detail);
  logger.setCorrelationId(detail.requestId);
  // An event of a request this ledger never held (another stage's, a hand-made sample) changes nothing.
  if (!(await ledger.get(detail.requestId))) {
    logger.warn('completion event of a request the ledger does not hold', { status: detail.status });
    return;
  }
  const delivery = await ledger.recordEventDelivery(
    detail.requestId,
    detail.eventId,
    detail.status,
    new Date(),
  );
  if (delivery === 'first') {
    metrics.addMetric(`Completion.${detail.status}`, MetricUnit.Count, 1);
    metrics.addMetric('Completion.All', MetricUnit.Count, 1);
  }
  logger.info('completion event delivered', { status: detail.status, eventId: detail.eventId, delivery });
})
  .use(injectLambdaContext(logger, { resetKeys: true }))
  .use(captureLambdaHandler(tracer, { captureResponse: false }))
  .use(logMetrics(metrics));
