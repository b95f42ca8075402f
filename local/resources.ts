/**
 * The names serverless.yml gives the AWS resources of a stage (service `scaling-detach`), and the local
 * definitions of the ones the local services must hold. Keep in step with serverless.yml `resources`.
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
