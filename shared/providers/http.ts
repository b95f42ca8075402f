import { Agent, type Dispatcher, errors as undiciErrors } from 'undici';
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

/** Where a request goes, split once as undici's dispatcher takes it (no URL parsed per call). */
export interface HttpTarget {
  origin: string;
  /** The path and query, starting with `/`. */
  path: string;
}

export const httpTarget = (url: string | URL): HttpTarget => {
  const parsed = typeof url === 'string' ? new URL(url) : url;
  return { origin: parsed.origin, path: `${parsed.pathname}${parsed.search}` };
};

/**
 * POSTs a form. A failure before a full response (refused, reset, timeout) is `transient`: the call may or may
 * not have reached the cloud, so it is retried with the same idempotency token.
 */
export function postForm(
  httpAgent: Agent,
  url: string,
  body: string,
  headers: Record<string, string> = {},
): Promise<HttpResponse> {
  return post(
    httpAgent,
    httpTarget(url),
    // An empty body (a V3 call: everything in the query and headers) goes without a content type, as the SDKs send it.
    body === '' ? headers : { 'content-type': 'application/x-www-form-urlencoded', ...headers },
    body,
  );
}

/**
 * POSTs a body and reads the whole answer as text. Straight to the agent with a handler that only collects
 * the body: undici's `request` wraps every answer in a stream (and parses the URL again) for callers that stream,
 * which a cloud call's few kilobytes of JSON do not need. The agent's timeouts apply as they do to `request`;
 * any failure before the full answer (refused, reset, timeout) is a `transient` network error.
 */
export function post(
  httpAgent: Dispatcher,
  target: HttpTarget,
  headers: Record<string, string>,
  body: string,
): Promise<HttpResponse> {
  return new Promise((resolve, reject) => {
    httpAgent.dispatch(
      { origin: target.origin, path: target.path, method: 'POST', headers, body },
      new CollectBody(resolve, reject),
    );
  });
}

class CollectBody implements Dispatcher.DispatchHandler {
  #status = 0;
  #contentType = '';
  #chunks: Buffer[] = [];
  readonly #resolve: (response: HttpResponse) => void;
  readonly #reject: (error: DetachError) => void;

  constructor(resolve: (response: HttpResponse) => void, reject: (error: DetachError) => void) {
    this.#resolve = resolve;
    this.#reject = reject;
  }

  onRequestStart() {}

  onResponseStart(
    _controller: Dispatcher.DispatchController,
    statusCode: number,
    headers: Record<string, string | string[] | undefined>,
  ) {
    // An informational answer (1xx) comes here too; the final one, after it, overwrites what it set.
    this.#status = statusCode;
    this.#contentType = String(headers['content-type'] ?? '');
  }

  onResponseData(_controller: Dispatcher.DispatchController, chunk: Buffer) {
    this.#chunks.push(chunk);
  }

  onResponseEnd() {
    const chunks = this.#chunks;
    const bytes = chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks);
    // As undici's body.text(): UTF-8, a byte order mark dropped.
    const start = bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf ? 3 : 0;
    this.#resolve({
      status: this.#status,
      contentType: this.#contentType,
      text: bytes.toString('utf8', start),
    });
  }

  onResponseError(_controller: Dispatcher.DispatchController | null, error: Error) {
    this.#reject(networkError(error));
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
