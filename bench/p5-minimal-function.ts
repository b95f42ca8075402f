import { Logger } from '@aws-lambda-powertools/logger';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import { DynamoDBClient, GetItemCommand } from '@aws-sdk/client-dynamodb';
import middy from '@middy/core';

/**
 * P5's yardstick: the least a Powertools function on this stack inits, Logger, Metrics and one DynamoDB client,
 * bundled as the functions are. Each function's init is given as a ratio to this one's, measured in the same run.
 */
const logger = new Logger({ serviceName: 'p5-minimal' });
const metrics = new Metrics({ namespace: 'P5Minimal', serviceName: 'p5-minimal' });
const dynamodb = new DynamoDBClient({});

export const handler = middy(async (event: { id: string }) => {
  const { Item } = await dynamodb.send(
    new GetItemCommand({ TableName: 'p5-minimal', Key: { id: { S: event.id } } }),
  );
  logger.info('read', { found: Item !== undefined });
  return Item;
})
  .use(injectLambdaContext(logger))
  .use(logMetrics(metrics));
