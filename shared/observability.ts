import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { Tracer } from '@aws-lambda-powertools/tracer';

export const SERVICE_NAME = 'scaling-detach';

export const logger = new Logger({ serviceName: SERVICE_NAME });
export const metrics = new Metrics({ namespace: 'ScalingDetach', serviceName: SERVICE_NAME });
/** X-Ray (active tracing when deployed; POWERTOOLS_TRACE_ENABLED=false locally). */
export const tracer = new Tracer({ serviceName: SERVICE_NAME, captureHTTPsRequests: false });

/** A client whose every cloud API call goes through `call(action, ...)`. */
interface ActionClient {
  call(action: string, ...rest: never[]): Promise<unknown>;
}

/**
 * Wraps a cloud client's `call` so that each API call is an X-Ray subsegment named `<service>.<Action>` (e.g.
 * `ESS.DetachInstances`), errors recorded on it. Outside a traced invocation it only calls through.
 */
export function traceCloudCalls<T extends ActionClient>(
  service: string,
  client: T,
  tracing: Pick<Tracer, 'isTracingEnabled' | 'getSegment'> = tracer,
): T {
  const call = client.call.bind(client) as (action: string, ...rest: unknown[]) => Promise<unknown>;
  const traced = (action: string, ...rest: unknown[]): Promise<unknown> => {
    const parent = tracing.isTracingEnabled() ? tracing.getSegment() : undefined;
    if (!parent) return call(action, ...rest);
    // Not made the current segment: calls run concurrently, and nothing is traced beneath them.
    const subsegment = parent.addNewSubsegment(`${service}.${action}`);
    return call(action, ...rest)
      .catch((error: unknown) => {
        subsegment.addError(error as Error);
        throw error;
      })
      .finally(() => subsegment.close());
  };
  Object.defineProperty(client, 'call', { value: traced });
  return client;
}
