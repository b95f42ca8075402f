import { Logger } from '@aws-lambda-powertools/logger';
import { startStack } from './stack.ts';

const logger = new Logger({ serviceName: 'local-stack' });
logger.info('starting the local stack (first start bundles the functions; about 20 s)');
const stack = await startStack({ logger, echoFunctionLogs: true });
const queueUrl = stack.queues['detach-instances']?.queueUrl;
process.stdout.write(`
scaling-detach is running locally.
  SQS (fauxqs)          ${stack.endpoints.sqs}
  DynamoDB Local        ${stack.endpoints.dynamodb}   table ${stack.resources.ledgerTable}
  EventBridge emulator  ${stack.endpoints.eventBridge}   bus ${stack.resources.eventBusName}
  Cloud emulator        ${stack.endpoints.emulator}   (state: ${stack.endpoints.emulator}/admin/state)
  Lambda (offline)      ${stack.endpoints.lambda}

Send a detach request (in another terminal):
  npm run send -- detach-instances '{"requestId":"demo-1","provider":"aliyun","region":"cn-hangzhou","scalingGroupId":"asg-demo0001","instanceIds":["i-demo0001"]}'
Queue: ${queueUrl}
Ctrl-C stops everything.
`);
let stopping = false;
const stop = async () => {
  if (stopping) return;
  stopping = true;
  logger.info('stopping the local stack');
  await stack.stop();
  process.exit(0);
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
