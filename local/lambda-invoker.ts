import { request } from 'undici';

export interface InvokeResult {
  /** Set when the function threw (Lambda's X-Amz-Function-Error). */
  functionError?: string;
  payload: unknown;
}

/** Invokes a function through serverless-offline's Lambda endpoint, as an event source mapping would. */
export async function invokeFunction(
  lambdaUrl: string,
  functionName: string,
  event: unknown,
): Promise<InvokeResult> {
  const response = await request(`${lambdaUrl}/2015-03-31/functions/${functionName}/invocations`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-amz-invocation-type': 'RequestResponse' },
    body: JSON.stringify(event),
  });
  const text = await response.body.text();
  const payload = text ? JSON.parse(text) : undefined;
  const functionError = response.headers['x-amz-function-error'];
  if (response.statusCode >= 300) return { functionError: `HTTP ${response.statusCode}`, payload };
  return { ...(functionError && { functionError: String(functionError) }), payload };
}
