import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import type { EventBridgeEvent } from 'aws-lambda';
import { compose } from '../../shared/composition.ts';
import { CompletionEvent } from '../../shared/contracts/index.ts';
import { logger } from '../../shared/observability.ts';

const { ledger } = compose();

/**
 * Subscribed to our own completion events on the bus: writes on the ledger record that its event reached the
 * bus and was delivered to a rule target, so the status of a request shows the whole path.
 */
export const handler = middy(async (event: EventBridgeEvent<string, unknown>) => {
  const detail = CompletionEvent.parse(event.detail);
  logger.setCorrelationId(detail.requestId);
  // An event of a request this ledger never held (another stage's, a hand-made sample) changes nothing.
  if (!(await ledger.get(detail.requestId))) {
    logger.warn('completion event of a request the ledger does not hold', { status: detail.status });
    return;
  }
  await ledger.recordEventDelivery(detail.requestId, detail.status, new Date());
  logger.info('completion event delivered', { status: detail.status });
}).use(injectLambdaContext(logger, { resetKeys: true }));
