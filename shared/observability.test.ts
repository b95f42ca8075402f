import { describe, expect, it } from 'vitest';
import { traceCloudCalls } from './observability.ts';

/** A stand-in for the X-Ray segment of an invocation: records the subsegments opened on it. */
function recordingSegment() {
  const subsegments: { name: string; closed: boolean; errors: unknown[] }[] = [];
  const segment = {
    addNewSubsegment(name: string) {
      const subsegment = { name, closed: false, errors: [] as unknown[] };
      subsegments.push(subsegment);
      return {
        close: () => {
          subsegment.closed = true;
        },
        addError: (error: unknown) => subsegment.errors.push(error),
      };
    },
  };
  return { segment, subsegments };
}

class FakeCloudClient {
  readonly calls: string[] = [];
  async call(action: string, region: string): Promise<string> {
    this.calls.push(`${action}@${region}`);
    if (action === 'Broken') throw new Error('cloud said no');
    return `${action} done`;
  }
  async detachInstances(region: string) {
    return this.call('DetachInstances', region);
  }
}

describe('traceCloudCalls', () => {
  it('makes each cloud call a closed subsegment named <service>.<Action>, errors recorded', async () => {
    const { segment, subsegments } = recordingSegment();
    const tracing = { isTracingEnabled: () => true, getSegment: () => segment as never };
    const client = traceCloudCalls('ESS', new FakeCloudClient(), tracing);

    const answer = await client.detachInstances('cn-hangzhou');
    const failure = await client.call('Broken', 'cn-hangzhou').catch((error: Error) => error.message);

    expect(answer).toBe('DetachInstances done');
    expect(failure).toBe('cloud said no');
    expect(client.calls).toEqual(['DetachInstances@cn-hangzhou', 'Broken@cn-hangzhou']);
    expect(subsegments.map(({ name, closed, errors }) => [name, closed, errors.length])).toEqual([
      ['ESS.DetachInstances', true, 0],
      ['ESS.Broken', true, 1],
    ]);
  });

  it('only calls through when tracing is off', async () => {
    const { segment, subsegments } = recordingSegment();
    const tracing = { isTracingEnabled: () => false, getSegment: () => segment as never };
    const client = traceCloudCalls('ESS', new FakeCloudClient(), tracing);

    expect(await client.detachInstances('cn-hangzhou')).toBe('DetachInstances done');
    expect(subsegments).toEqual([]);
  });
});
