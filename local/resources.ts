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
  const queues: QueueBinding[] = [
    {
      action: 'detach-instances',
      queueName: `${prefix}-detach-instances.fifo`,
      deadLetterQueueName: `${prefix}-detach-instances-dlq.fifo`,
      functionName: `${prefix}-detachInstances`,
      maxReceiveCount: 10,
    },
  ];
  return {
    stage,
    ledgerTable: `${prefix}-operations`,
    eventBusName: prefix,
    pollFunctionName: `${prefix}-pollActivities`,
    queues,
  };
}
export type StackResources = ReturnType<typeof stackResources>;
