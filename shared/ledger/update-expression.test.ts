import { describe, expect, it } from 'vitest';
import { UpdateExpression } from './update-expression.ts';

describe('UpdateExpression', () => {
  it('builds SET, REMOVE and ADD clauses with placeholders for every name and value', () => {
    const built = new UpdateExpression()
      .set('status', 'IN_PROGRESS')
      .set('activityId', undefined)
      .setIfAbsent('createdAt', '2026-12-01')
      .remove('waitKey', 'retryAfter')
      .add('attempts', 1)
      .build();

    expect(built).toEqual({
      UpdateExpression:
        'SET #status = :v0, #createdAt = if_not_exists(#createdAt, :v1) REMOVE #waitKey, #retryAfter ADD #attempts :v2',
      ExpressionAttributeNames: {
        '#status': 'status',
        '#createdAt': 'createdAt',
        '#waitKey': 'waitKey',
        '#retryAfter': 'retryAfter',
        '#attempts': 'attempts',
      },
      ExpressionAttributeValues: { ':v0': 'IN_PROGRESS', ':v1': '2026-12-01', ':v2': 1 },
    });
  });

  it('joins conditions with AND, each with its own placeholders', () => {
    const built = new UpdateExpression()
      .remove('leaseOwner')
      .when('{name} = {value}', { names: ['leaseOwner'], values: ['me'] })
      .when('attribute_not_exists({name}) OR {name} = {value}', {
        names: ['intentId', 'intentId'],
        values: ['i-1'],
      })
      .build();

    expect(built.ConditionExpression).toBe(
      '(#leaseOwner = :v0) AND (attribute_not_exists(#intentId) OR #intentId = :v1)',
    );
    expect(built.ExpressionAttributeValues).toEqual({ ':v0': 'me', ':v1': 'i-1' });
  });

  it('builds a condition alone for requests that update nothing', () => {
    const built = new UpdateExpression()
      .when('{name} = {value}', { names: ['intentId'], values: ['i-1'] })
      .buildCondition();

    expect(built).toEqual({
      ConditionExpression: '(#intentId = :v0)',
      ExpressionAttributeNames: { '#intentId': 'intentId' },
      ExpressionAttributeValues: { ':v0': 'i-1' },
    });
  });

  it('refuses to build a condition alone from an update, or from no condition', () => {
    expect(() =>
      new UpdateExpression()
        .set('status', 'QUEUED')
        .when('attribute_exists({name})', { names: ['requestId'] })
        .buildCondition(),
    ).toThrow();
    expect(() => new UpdateExpression().buildCondition()).toThrow();
  });
});
