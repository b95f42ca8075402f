import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { inject } from 'vitest';
import { uniqueId } from '../../support/emulator-admin.ts';
import type { Domain } from './domain.ts';

/**
 * What the outcome tests judge by: the emulator's state (what the cloud did), and the ledger's raw items where a
 * test must write or read one as an earlier release left it.
 */
export const delivery = (body: unknown) => ({ body, messageId: uniqueId('m'), receiveCount: 1 });

/** Tests that settle through many poller passes: slow on a loaded machine, so they get more than the default. */
export const SETTLING = { timeout: 180_000 };

const documents = () => {
  const stack = inject('stack');
  return DynamoDBDocumentClient.from(
    new DynamoDBClient({ ...stack.aws, endpoint: stack.endpoints.dynamodb }),
  );
};

/** A ledger item written as an earlier release (or a bug) left it: the current contract may not read it. */
export async function putRawItem(domain: Domain, item: Record<string, unknown>): Promise<void> {
  await documents().send(new PutCommand({ TableName: domain.tableName, Item: item }));
}

export async function rawStatus(domain: Domain, requestId: string): Promise<string | undefined> {
  const { Item } = await documents().send(
    new GetCommand({ TableName: domain.tableName, Key: { requestId }, ConsistentRead: true }),
  );
  return Item?.status as string | undefined;
}

/** Instance ids the emulator still holds in the ESS group: the ground truth of what left. */
export async function essMembers(domain: Domain, scalingGroupId: string): Promise<string[]> {
  const { aliyun } = await domain.admin.state();
  return aliyun.instances.filter((i) => i.scalingGroupId === scalingGroupId).map((i) => i.instanceId);
}

export async function tencentMembers(domain: Domain, groupId: string): Promise<string[]> {
  const { tencent } = await domain.admin.state();
  return tencent.instances.filter((i) => i.autoScalingGroupId === groupId).map((i) => i.instanceId);
}

/** Until the emulator shows every activity of these groups ended (the cloud's clock is real time). */
export async function activitiesEnded(domain: Domain, groupIds: readonly string[]): Promise<void> {
  for (let round = 0; round < 300; round++) {
    const { aliyun, tencent } = await domain.admin.state();
    const running = [
      ...aliyun.activities.filter((a) => groupIds.includes(a.scalingGroupId)),
      ...tencent.activities.filter((a) => groupIds.includes(a.groupId)),
    ].filter((a) => !a.settled);
    if (running.length === 0) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`activities of ${groupIds.join(', ')} did not end`);
}
