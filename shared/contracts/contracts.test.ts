import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { SCHEMAS, schemaText } from '../../events/export-schemas.ts';
import { CompletionEvent, DetachInstancesRequest } from './index.ts';

const readEvent = (name: string) =>
  JSON.parse(readFileSync(new URL(`../../events/${name}`, import.meta.url), 'utf8'));

describe('contracts', () => {
  it.each(Object.keys(SCHEMAS))(
    'events/schemas/%s.schema.json is the export of the zod contract (npm run schemas)',
    (name) => {
      const committed = readFileSync(
        new URL(`../../events/schemas/${name}.schema.json`, import.meta.url),
        'utf8',
      );

      expect(committed).toBe(schemaText(SCHEMAS[name] as never));
    },
  );

  it('the sample SQS event carries a valid detach request', () => {
    const event = readEvent('detach-instances.sqs.json');

    expect(DetachInstancesRequest.safeParse(JSON.parse(event.Records[0].body)).success).toBe(true);
  });

  it('the sample EventBridge event carries a valid completion event', () => {
    expect(CompletionEvent.safeParse(readEvent('record-delivery.eventbridge.json').detail).success).toBe(
      true,
    );
  });

  it('a request id is usable as a ClientToken: at most 64 ASCII characters', () => {
    const base = { provider: 'aliyun', region: 'cn-hangzhou', scalingGroupId: 'asg-1', instanceIds: ['i-1'] };

    expect(DetachInstancesRequest.safeParse({ ...base, requestId: 'a'.repeat(64) }).success).toBe(true);
    expect(DetachInstancesRequest.safeParse({ ...base, requestId: 'a'.repeat(65) }).success).toBe(false);
    expect(DetachInstancesRequest.safeParse({ ...base, requestId: 'naïve' }).success).toBe(false);
  });

  it('refuses duplicate instance ids and an unknown provider', () => {
    const base = { requestId: 'r', region: 'cn-hangzhou', scalingGroupId: 'asg-1' };

    expect(
      DetachInstancesRequest.safeParse({ ...base, provider: 'aliyun', instanceIds: ['i-1', 'i-1'] }).success,
    ).toBe(false);
    expect(DetachInstancesRequest.safeParse({ ...base, provider: 'gcp', instanceIds: ['i-1'] }).success).toBe(
      false,
    );
  });
});
