import { Agent, request, errors as undiciErrors } from 'undici';
import { DetachError } from '../errors.ts';

export interface HttpSettings {
  connectTimeoutMs: number;
  /** Time to the response headers, and between body chunks. */
  responseTimeoutMs: number;
  connectionsPerOrigin: number;
}

export const DEFAULT_HTTP_SETTINGS: HttpSettings = {
  connectTimeoutMs: 3_000,
  responseTimeoutMs: 10_000,
  connectionsPerOrigin: 32,
};

/** One keep-alive pool per process (module scope in the handlers), shared by every cloud client. */
export const createHttpAgent = (settings: HttpSettings = DEFAULT_HTTP_SETTINGS): Agent =>
  new Agent({
    connections: settings.connectionsPerOrigin,
    keepAliveTimeout: 30_000,
    connect: { timeout: settings.connectTimeoutMs },
    headersTimeout: settings.responseTimeoutMs,
    bodyTimeout: settings.responseTimeoutMs,
  });

export interface HttpResponse {
  status: number;
  contentType: string;
  text: string;
}

/**
 * POSTs a form. A failure before a full response (refused, reset, timeout) is `transient`: the call may or may
 * not have reached the cloud, so it is retried with the same idempotency token.
 */
export async function postForm(
  dispatcher: Agent,
  url: string,
  body: string,
  headers: Record<string, string> = {},
): Promise<HttpResponse> {
  try {
    const response = await request(url, {
      method: 'POST',
      dispatcher,
      // An empty body (a V3 call: everything in the query and headers) goes without a content type, as the SDKs send it.
      headers: body === '' ? headers : { 'content-type': 'application/x-www-form-urlencoded', ...headers },
      body,
    });
    const text = await response.body.text();
    const contentType = String(response.headers['content-type'] ?? '');
    return { status: response.statusCode, contentType, text };
  } catch (error) {
    throw networkError(error);
  }
}

export function networkError(error: unknown): DetachError {
  const code =
    error instanceof undiciErrors.UndiciError
      ? ((error as { code?: string }).code ?? 'UND_ERR')
      : ((error as { code?: string } | null)?.code ?? 'NetworkError');
  const message = error instanceof Error ? error.message : String(error);
  return new DetachError(`Network.${code}`, `No complete response from the cloud: ${message}`, 'transient', {
    cause: error,
  });
}

/** A body that is not JSON reads as undefined, for the caller's schema to refuse with its own message. */
export function parseJsonOrUndefined(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
