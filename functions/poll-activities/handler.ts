import { setTimeout as sleep } from 'node:timers/promises';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import { captureLambdaHandler } from '@aws-lambda-powertools/tracer/middleware';
import middy from '@middy/core';
import type { Context } from 'aws-lambda';
import { composePoller } from '../../shared/composition.ts';
import { pollRepeatedly, stopReadingAtFor } from '../../shared/detach/poll-loop.ts';
import { logger, metrics, tracer } from '../../shared/observability.ts';

const { config, scheduleNextPass, ...deps } = composePoller();
const pollDeps = {
  ...deps,
  timeoutMs: config.OPERATION_TIMEOUT_SECONDS * 1000,
  concurrency: config.POLL_CONCURRENCY,
};

/** A lost next pass costs only time: the schedule starts another within the minute. */
const nextPass =
  scheduleNextPass &&
  ((startedAt: number) =>
    scheduleNextPass(startedAt).catch((error: unknown) => logger.warn('next pass not scheduled', { error })));

/**
 * Invoked every minute by the schedule, and (with POLL_NEXT_QUEUE_URL) by the next-pass queue: then one pass an
 * invocation, and a pass that leaves work open sends the next one, a delayed message away. Without the queue,
 * each invocation passes every POLL_INTERVAL_SECONDS for POLL_LOOP_SECONDS.
 */
export const handler = middy(async (_event: unknown, context: Context) => {
  const passes = await pollRepeatedly(pollDeps, {
    intervalMs: config.POLL_INTERVAL_SECONDS * 1000,
    deadline: Date.now() + (nextPass ? 0 : config.POLL_LOOP_SECONDS * 1000),
    stopReadingAt: stopReadingAtFor(Date.now(), context.getRemainingTimeInMillis()),
    sleep: (ms) => sleep(ms),
    ...(nextPass && { onWorkLeft: nextPass }),
  });
  for (const summary of passes) {
    metrics.addMetric('Poll.DescribeCalls', MetricUnit.Count, summary.describeCalls);
    if (summary.callbacksGivenUp > 0)
      metrics.addMetric('Callback.GaveUp', MetricUnit.Count, summary.callbacksGivenUp);
    if (summary.failedBatches.length > 0 || summary.failedItems.length > 0)
      logger.warn('some items failed; each is retried on its own', { summary });
  }
  const last = passes.at(-1);
  // The alarm on requests that do not move reads this, once per invocation: the oldest any pass saw, as a pass
  // out of time reads only part of the index (the next one goes on from there).
  const oldest = Math.max(0, ...passes.map((pass) => pass.oldestOpenAgeSeconds));
  metrics.addMetric('Poll.OldestPendingAgeSeconds', MetricUnit.Seconds, oldest);
  // An idle pass (the local stack runs one every 2 s) is worth a line only when debugging.
  const idle = passes.every(
    (pass) => pass.examined === 0 && pass.dispatched === 0 && pass.callbacks === 0 && pass.republished === 0,
  );
  logger[idle ? 'debug' : 'info']('poll done', { passes: passes.length, last });
  return last;
})
  .use(injectLambdaContext(logger, { resetKeys: true }))
  .use(captureLambdaHandler(tracer, { captureResponse: false }))
  .use(logMetrics(metrics));
