import { describe, expect, it } from 'vitest';
import { compactLine, offlineEcho } from './log-format.ts';

const POWERTOOLS_LINE = JSON.stringify({
  level: 'INFO',
  message: 'request handled',
  timestamp: '2026-12-03T16:21:03.965Z',
  service: 'scaling-detach',
  cold_start: false,
  function_arn: 'offline_invokedFunctionArn_for_scaling-detach-local-detachInstances',
  function_memory_size: '512',
  function_name: 'scaling-detach-local-detachInstances',
  function_request_id: 'c6f52b4e-d05b-43ec-a851-79cb3ea8e5a4',
  sampling_rate: 0,
  action: 'detach-instances',
  outcome: { queued: 1 },
});

describe('the local stack echo of the functions logs', () => {
  it('shows a Powertools line as time, level, function, message and its own data', () => {
    expect(compactLine(POWERTOOLS_LINE)).toBe(
      '16:21:03.965 INFO  detachInstances request handled action=detach-instances outcome={"queued":1}',
    );
  });

  it('leaves a line that is not a log item as it is, and cuts a long one', () => {
    expect(compactLine('Starting Offline at stage local')).toBe('Starting Offline at stage local');
    expect(compactLine('{"not":"a log item"}')).toBe('{"not":"a log item"}');
    const long = compactLine(JSON.stringify({ level: 'WARN', message: 'm', detail: 'x'.repeat(500) }));
    expect(long.length).toBe(240);
    expect(long.endsWith('…')).toBe(true);
  });

  it('hides the banner of the unused HTTP server (with one line saying why), invocation lines and metrics', () => {
    const echo = offlineEcho('compact');
    const shown = [
      'Scheduling [pollActivities] cron: disabled',
      ' ┌──────────┐',
      ' │   POST | http://127.0.0.1:3001/v1/{action}   │',
      ' └──────────┘',
      'Server ready: http://127.0.0.1:3001 🚀',
      '(λ: webhook) RequestId: efdd  Duration: 509.90 ms  Billed Duration: 510 ms',
      '{"_aws":{"Timestamp":1}}',
      POWERTOOLS_LINE,
    ]
      .map(echo)
      .filter((line) => line !== undefined);

    expect(shown).toEqual([
      'Scheduling [pollActivities] cron: disabled',
      expect.stringContaining("serverless-offline's own HTTP server is not used"),
      expect.stringMatching(/^16:21:03.965 INFO {2}detachInstances request handled/),
    ]);
  });

  it('--json-logs keeps the JSON and the other functions invocation lines', () => {
    const echo = offlineEcho('json');

    expect(echo(POWERTOOLS_LINE)).toBe(POWERTOOLS_LINE);
    expect(echo('(λ: webhook) RequestId: e  Duration: 5 ms')).toBe(
      '(λ: webhook) RequestId: e  Duration: 5 ms',
    );
    expect(echo('(λ: pollActivities) RequestId: e  Duration: 5 ms')).toBeUndefined();
    expect(echo('{"_aws":{"Timestamp":1}}')).toBeUndefined();
  });
});
