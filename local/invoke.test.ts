import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { FUNCTION_NAMES, requestIdsOf } from './invoke.ts';

const event = (name: string) =>
  JSON.parse(readFileSync(new URL(`../events/${name}`, import.meta.url), 'utf8'));

describe('npm run invoke', () => {
  it('knows exactly the functions serverless.yml declares', () => {
    const yml = readFileSync(new URL('../serverless.yml', import.meta.url), 'utf8');
    const functions = yml.slice(yml.indexOf('\nfunctions:\n'), yml.indexOf('\nresources:\n'));
    const declared = [...functions.matchAll(/^ {2}([A-Za-z]+):\n {4}handler:/gm)].map((m) => m[1]);

    expect([...FUNCTION_NAMES].sort()).toEqual(declared.sort());
  });

  it('follows the request of each SQS record and of the webhook POST; the others start none', () => {
    expect(requestIdsOf(event('detach-instances.sqs.json'))).toEqual(['sample-detach-1']);
    expect(requestIdsOf(event('webhook.http-api-v2.json'))).toEqual(['sample-webhook-1']);
    expect(requestIdsOf(event('poll-activities.schedule.json'))).toEqual([]);
    expect(requestIdsOf(event('record-delivery.eventbridge.json'))).toEqual([]);
    expect(
      requestIdsOf({
        Records: [
          { eventSource: 'aws:sqs', body: '{"requestId":"a"}' },
          { eventSource: 'aws:sqs', body: 'not json' },
          { eventSource: 'aws:sqs', body: '{"requestId":"a"}' },
        ],
      }),
    ).toEqual(['a']);
  });
});
