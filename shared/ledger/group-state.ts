import { UpdateCommand } from '@aws-sdk/lib-dynamodb';
import * as z from 'zod';
import { Action, type CompletionEvent } from '../contracts/index.ts';
import type { Fence, GroupKey, GroupState, Intent, IntentOutcome } from '../detach/ports.ts';
import type { Plan } from '../detach/preflight.ts';
import type { GroupMarkers } from './group-markers.ts';
import {
  groupItemKey,
  isConditionFailure,
  keyedUpdate,
  type LedgerTable,
  type TransactItem,
  transact,
  whenHoldsLease,
} from './ledger-table.ts';
import { terminalChange } from './operation-records.ts';
import { UpdateExpression } from './update-expression.ts';

const IntentItem = z.object({
  id: z.string(),
  action: Action,
  requestIds: z.array(z.string()),
  instanceIds: z.array(z.string()).optional(),
  clientToken: z.string(),
  createdAt: z.string(),
  calledAt: z.string().optional(),
  calls: z.number().int().nonnegative(),
});
/** The group item as read back: its intent and running activity (the lease is read as plain attributes). */
export const GroupItem = z.object({ intent: IntentItem.optional(), activityId: z.string().optional() });

/**
 * A group's lease (the fence every write of a dispatch holds), its intent and its running activity, on the
 * group item; an intent's records move with it in one transaction.
 */
export class GroupStates {
  constructor(
    private readonly table: LedgerTable,
    private readonly markers: GroupMarkers,
  ) {}

  async acquireGroup(
    groupKey: GroupKey,
    owner: string,
    now: Date,
    leaseMs: number,
  ): Promise<{ fence: Fence; group: GroupState } | undefined> {
    const until = now.getTime() + leaseMs;
    const change = new UpdateExpression().set('leaseOwner', owner).set('leaseUntil', until);
    // Free: no lease, no activity of ours running, no backoff on.
    for (const [present, expiry, comparison] of [
      ['leaseUntil', 'leaseUntil', '<'],
      ['activityId', 'activityUntil', '<'],
      ['retryAfter', 'retryAfter', '<='],
    ] as const) {
      change.when(`attribute_not_exists({name}) OR {name} ${comparison} {value}`, {
        names: [present, expiry],
        values: [now.getTime()],
      });
    }
    try {
      const { Attributes } = await this.table.documents.send(
        new UpdateCommand({ ...this.#groupUpdate(groupKey, change), ReturnValues: 'ALL_NEW' }),
      );
      const group = GroupItem.parse(Attributes ?? {});
      return {
        fence: { groupKey, owner, until },
        group: { groupKey, ...(group.intent && { intent: group.intent as Intent }) },
      };
    } catch (error) {
      if (isConditionFailure(error)) return undefined;
      throw error;
    }
  }

  async writeIntent(
    fence: Fence,
    intent: Intent,
    plans: ReadonlyMap<string, Plan>,
    now: Date,
  ): Promise<'written' | 'lost-lease' | 'stale-records'> {
    await this.markers.rememberTakenOut(fence.groupKey, intent, now);
    const group = whenHoldsLease(new UpdateExpression().set('intent', intent), fence, now).when(
      'attribute_not_exists({name})',
      { names: ['intent'] },
    );
    return transact(this.table, [
      { Update: this.#groupUpdate(fence.groupKey, group) },
      ...intent.requestIds.map(
        (requestId): TransactItem => ({
          Update: keyedUpdate(
            this.table,
            requestId,
            new UpdateExpression()
              .set('status', 'SUBMITTING')
              .set('intentId', intent.id)
              .set('updatedAt', now.toISOString())
              .set('plan', plans.get(requestId))
              .when('{name} = {value}', { names: ['status'], values: ['QUEUED'] }),
          ),
        }),
      ),
    ]);
  }

  /** Kept as a string: the builder names top-level attributes only, and this sets the intent's own fields. */
  async beginCall(fence: Fence, intentId: string, now: Date, leaseMs: number): Promise<Fence | undefined> {
    const until = now.getTime() + leaseMs;
    try {
      await this.table.documents.send(
        new UpdateCommand({
          TableName: this.table.tableName,
          Key: { requestId: groupItemKey(fence.groupKey) },
          UpdateExpression:
            'SET leaseUntil = :until, #intent.calledAt = :at, #intent.calls = #intent.calls + :one',
          ConditionExpression: 'leaseOwner = :owner AND leaseUntil > :now AND #intent.id = :intentId',
          ExpressionAttributeNames: { '#intent': 'intent' },
          ExpressionAttributeValues: {
            ':owner': fence.owner,
            ':now': now.getTime(),
            ':until': until,
            ':at': now.toISOString(),
            ':one': 1,
            ':intentId': intentId,
          },
        }),
      );
      return { ...fence, until };
    } catch (error) {
      if (isConditionFailure(error)) return undefined;
      throw error;
    }
  }

  async resolveIntent(
    fence: Fence,
    intent: Intent,
    outcome: IntentOutcome,
    ended: readonly CompletionEvent[],
    now: Date,
  ): Promise<boolean> {
    const inIntent = (change: UpdateExpression) =>
      change.when('{name} = {value} AND {name} = {value}', {
        names: ['status', 'intentId'],
        values: ['SUBMITTING', intent.id],
      });
    const recordUpdates: TransactItem[] = [
      ...intentRecordChanges(outcome, now).map(([requestId, change]) => ({
        Update: keyedUpdate(this.table, requestId, inIntent(change)),
      })),
      ...ended.map((event) => ({
        Update: keyedUpdate(this.table, event.requestId, inIntent(terminalChange(this.table, event))),
      })),
    ];
    if (outcome.kind === 'accepted' && outcome.activityId && outcome.claimActivity)
      recordUpdates.push(this.markers.claimPut(fence.groupKey, outcome.activityId, intent, now));
    const group = whenHoldsLease(groupChange(outcome), fence, now).when('{name}.id = {value}', {
      names: ['intent'],
      values: [intent.id],
    });
    const result = await transact(this.table, [
      { Update: this.#groupUpdate(fence.groupKey, group) },
      ...recordUpdates,
    ]);
    // A record that moved on without its intent would be a bug of ours; the group condition is the fence.
    if (result === 'stale-records') throw new Error(`Intent ${intent.id} found a record outside it`);
    if (result === 'written' && outcome.kind === 'refused' && outcome.cloudDidNotAct)
      await this.markers.forgetTakenOut(fence.groupKey, intent);
    return result === 'written';
  }

  async endWaiting(
    fence: Fence,
    events: readonly CompletionEvent[],
    now: Date,
  ): Promise<'ended' | 'lost-lease' | 'stale-records'> {
    const lease = whenHoldsLease(new UpdateExpression(), fence, now).buildCondition();
    const result = await transact(this.table, [
      {
        ConditionCheck: {
          TableName: this.table.tableName,
          Key: { requestId: groupItemKey(fence.groupKey) },
          ...lease,
        },
      },
      ...events.map((event) => ({
        Update: keyedUpdate(
          this.table,
          event.requestId,
          terminalChange(this.table, event).when('{name} = {value}', {
            names: ['status'],
            values: ['QUEUED'],
          }),
        ),
      })),
    ]);
    return result === 'written' ? 'ended' : result;
  }

  async backOff(fence: Fence, retryAfter: number, now: Date): Promise<boolean> {
    const change = whenHoldsLease(new UpdateExpression().set('retryAfter', retryAfter), fence, now);
    try {
      await this.table.documents.send(new UpdateCommand(this.#groupUpdate(fence.groupKey, change)));
      return true;
    } catch (error) {
      if (isConditionFailure(error)) return false;
      throw error;
    }
  }

  async releaseGroup(fence: Fence): Promise<void> {
    // Lost already: whoever holds the lease now owns the group.
    await this.#updateUnlessMoved(
      fence.groupKey,
      new UpdateExpression()
        .remove('leaseOwner', 'leaseUntil')
        .when('{name} = {value}', { names: ['leaseOwner'], values: [fence.owner] }),
    );
  }

  async finishGroupActivity(groupKey: GroupKey, activityId: string): Promise<void> {
    // Already finished by another pass, or a newer activity holds the group.
    await this.#updateUnlessMoved(
      groupKey,
      new UpdateExpression()
        .remove('activityId', 'activityUntil')
        .when('{name} = {value}', { names: ['activityId'], values: [activityId] }),
    );
  }

  /** A conditional update of the group item; a group that moved on (its condition failed) is left as it is. */
  async #updateUnlessMoved(groupKey: GroupKey, change: UpdateExpression): Promise<void> {
    await this.table.documents
      .send(new UpdateCommand(this.#groupUpdate(groupKey, change)))
      .catch((error: unknown) => {
        if (!isConditionFailure(error)) throw error;
      });
  }

  #groupUpdate(groupKey: GroupKey, change: UpdateExpression) {
    return keyedUpdate(this.table, groupItemKey(groupKey), change);
  }
}

/** How the group item changes with an intent's outcome (the fence condition is added by the caller). */
export function groupChange(outcome: IntentOutcome): UpdateExpression {
  const change = new UpdateExpression();
  switch (outcome.kind) {
    case 'accepted':
      return outcome.activityId
        ? change
            .set('activityId', outcome.activityId)
            .set('activityUntil', outcome.holdUntil)
            .remove('intent', 'retryAfter')
        : change.remove('intent', 'retryAfter');
    case 'ambiguous':
      return change.set('retryAfter', outcome.retryAfter);
    case 'refused':
      return outcome.retryAfter
        ? change.set('retryAfter', outcome.retryAfter).remove('intent')
        : change.remove('intent', 'retryAfter');
  }
}

/** How each record of an intent changes with its outcome (the caller adds that it is still in the intent). */
export function intentRecordChanges(outcome: IntentOutcome, now: Date): [string, UpdateExpression][] {
  const at = now.toISOString();
  switch (outcome.kind) {
    case 'accepted':
      return outcome.requestIds.map((requestId) => [
        requestId,
        new UpdateExpression()
          .set('status', outcome.activityId ? 'IN_PROGRESS' : 'SUBMITTED')
          .set('submittedAt', at)
          .set('updatedAt', at)
          .set('activityId', outcome.activityId)
          .set('cloudRequestId', outcome.cloudRequestId)
          .remove('waitKey')
          .add('attempts', 1),
      ]);
    case 'ambiguous':
      return outcome.requestIds.map((requestId) => [
        requestId,
        new UpdateExpression()
          .set('lastError', outcome.error)
          .set('updatedAt', at)
          .add('attempts', outcome.countsAsAttempt ? 1 : 0),
      ]);
    case 'refused':
      return outcome.requeue.map((requeue) => [
        requeue.requestId,
        new UpdateExpression()
          .set('status', 'QUEUED')
          .set('updatedAt', at)
          .set('lastError', requeue.lastError)
          .set('alone', requeue.lastError?.kind === 'fatal' ? true : undefined)
          .add('attempts', requeue.countsAsAttempt ? 1 : 0),
      ]);
  }
}
