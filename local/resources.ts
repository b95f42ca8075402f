import type { CreateTableCommandInput } from '@aws-sdk/client-dynamodb';

/**
 * The names serverless.yml gives the AWS resources of a stage (service `scaling-detach`), and the local
 * definitions of the ones the local services must hold: copies of serverless/queues.yml and serverless/table.yml,
 * which test/template.test.ts holds against the packaged template.
 */
export const SERVICE = 'scaling-detach';

export interface QueueBinding {
  action: string;
  queueName: string;
  deadLetterQueueName: string;
  functionName: string;
  maxReceiveCount: number;
}

export function stackResources(stage: string) {
  const prefix = `${SERVICE}-${stage}`;
  const binding = (action: string, functionName: string): QueueBinding => ({
    action,
    queueName: `${prefix}-${action}.fifo`,
    deadLetterQueueName: `${prefix}-${action}-dlq.fifo`,
    functionName: `${prefix}-${functionName}`,
    maxReceiveCount: 10,
  });
  const queues: QueueBinding[] = [
    binding('detach-instances', 'detachInstances'),
    binding('remove-instances', 'removeInstances'),
    binding('detach-vserver-groups', 'detachVServerGroups'),
    binding('detach-alb-server-groups', 'detachAlbServerGroups'),
  ];
  return {
    stage,
    ledgerTable: `${prefix}-operations`,
    eventBusName: prefix,
    pollFunctionName: `${prefix}-pollActivities`,
    webhookFunctionName: `${prefix}-webhook`,
    /** Subscribed to every queue's DLQ (serverless.yml `deadLetter`). */
    deadLetterFunctionName: `${prefix}-deadLetter`,
    queues,
  };
}
export type StackResources = ReturnType<typeof stackResources>;

/** The ledger table's keys and indexes (serverless/table.yml `OperationsTable`), for the local DynamoDB. */
export const LEDGER_TABLE_KEYS = {
  AttributeDefinitions: [
    { AttributeName: 'requestId', AttributeType: 'S' },
    { AttributeName: 'pendingShard', AttributeType: 'S' },
    { AttributeName: 'waitKey', AttributeType: 'S' },
    { AttributeName: 'createdAt', AttributeType: 'S' },
    { AttributeName: 'scalingGroupId', AttributeType: 'S' },
  ],
  KeySchema: [{ AttributeName: 'requestId', KeyType: 'HASH' }],
  GlobalSecondaryIndexes: [
    {
      IndexName: 'pending',
      KeySchema: [
        { AttributeName: 'pendingShard', KeyType: 'HASH' },
        { AttributeName: 'requestId', KeyType: 'RANGE' },
      ],
      Projection: { ProjectionType: 'ALL' },
    },
    {
      IndexName: 'waiting',
      KeySchema: [
        { AttributeName: 'waitKey', KeyType: 'HASH' },
        { AttributeName: 'createdAt', KeyType: 'RANGE' },
      ],
      Projection: { ProjectionType: 'ALL' },
    },
    {
      IndexName: 'history',
      KeySchema: [
        { AttributeName: 'scalingGroupId', KeyType: 'HASH' },
        { AttributeName: 'createdAt', KeyType: 'RANGE' },
      ],
      Projection: { ProjectionType: 'KEYS_ONLY' },
    },
  ],
} satisfies Pick<CreateTableCommandInput, 'AttributeDefinitions' | 'KeySchema' | 'GlobalSecondaryIndexes'>;
