import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import type { EventBridgeEvent } from 'aws-lambda';
import { compose } from '../../shared/composition.ts';
import { CompletionEvent } from '../../shared/contracts/index.ts';
import { logger } from '../../shared/observability.ts';

const { ledger } = compose();

/**
 * Subscribed to our own completion events on the bus: writes on the ledger record that its event reached the
 * bus and was delivered to a rule target, so the status of a request shows the whole path. Delivery is at least
 * once: a repeated event id counts as a duplicate delivery, not as a second event.
 */
export const handler = middy(async (event: EventBridgeEvent<string, unknown>) => {
  const detail = CompletionEvent.parse(event.detail);
  logger.setCorrelationId(detail.requestId);
  const delivery = await ledger.recordEventDelivery(detail.requestId, detail.eventId, detail.status, new Date());
  logger.info('completion event delivered', { status: detail.status, eventId: detail.eventId, delivery });
}).use(injectLambdaContext(logger, { resetKeys: true }));
