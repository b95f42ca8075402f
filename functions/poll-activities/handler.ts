import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import middy from '@middy/core';
import { compose } from '../../shared/composition.ts';
import { pollActivities } from '../../shared/detach/poll.ts';
import { logger, metrics } from '../../shared/observability.ts';

const { config, ...deps } = compose();
const pollDeps = {
  ...deps,
  timeoutMs: config.OPERATION_TIMEOUT_SECONDS * 1000,
  concurrency: config.POLL_CONCURRENCY,
};

export const handler = middy(async () => {
  const summary = await pollActivities(pollDeps);
  metrics.addMetric('Poll.DescribeCalls', MetricUnit.Count, summary.describeCalls);
  metrics.addMetric('Poll.InProgress', MetricUnit.Count, summary.stillInProgress);
  if (summary.failedBatches.length > 0) logger.warn('describe calls failed; retried next pass', { summary });
  else logger.info('poll pass done', { summary });
  return summary;
})
  .use(injectLambdaContext(logger, { resetKeys: true }))
  .use(logMetrics(metrics));
