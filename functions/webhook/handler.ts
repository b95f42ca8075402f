import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { captureLambdaHandler } from '@aws-lambda-powertools/tracer/middleware';
import middy from '@middy/core';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { composeWebhook } from '../../shared/composition.ts';
import { logger, tracer } from '../../shared/observability.ts';
import { handleWebhook, type WebhookResponse } from '../../shared/webhook/handle-webhook.ts';

const { config, webhookSecret, callerKeys, requestQueue, ...deps } = composeWebhook();
const webhookDeps = {
  ...deps,
  queue: requestQueue,
  secret: webhookSecret,
  callerKeys,
  maxBodyBytes: config.WEBHOOK_MAX_BODY_BYTES,
};
/** Every answer has the documented error shape, a failure of ours too: never an exception's text. */
const internalError: WebhookResponse = {
  status: 500,
  body: { error: { code: 'InternalError', message: 'The request could not be handled; try again.' } },
};

/** POST /v1/{action}, GET /v1/operations/{requestId} and GET /v1/groups/{provider}/{region}/{groupId} (HTTP API). */
export const handler = middy(
  async (event: APIGatewayProxyEventV2): Promise<APIGatewayProxyStructuredResultV2> => {
    // Anything but an HTTP API (payload 2.0) event, such as a REST API one from a hand-made test event.
    if (typeof event?.requestContext?.http?.method !== 'string' || typeof event.rawPath !== 'string')
      return answer(400, { error: { code: 'UnsupportedEvent', message: UNSUPPORTED_EVENT } });
    const rawBody = event.body
      ? event.isBase64Encoded
        ? Buffer.from(event.body, 'base64').toString('utf8')
        : event.body
      : '';
    const route = `${event.requestContext.http.method} ${event.rawPath}`;
    const response = await handleWebhook(webhookDeps, {
      method: event.requestContext.http.method,
      path: event.rawPath,
      headers: event.headers,
      rawBody,
    }).catch((error: unknown) => {
      logger.error('webhook failed', { route, error });
      return internalError;
    });
    const requestId = response.body.requestId;
    if (typeof requestId === 'string') logger.setCorrelationId(requestId);
    // Only the outcome (and a keyed caller's key id) is logged: never the body, the signature header or a
    // secret. Reads (a following CLI asks every second) are at debug, unless refused.
    const read = event.requestContext.http.method === 'GET' && response.status < 400;
    logger[read ? 'debug' : 'info']('webhook answered', {
      status: response.status,
      route,
      ...(response.keyId && { keyId: response.keyId }),
    });
    return answer(response.status, response.body);
  },
)
  .use(injectLambdaContext(logger, { resetKeys: true }))
  .use(captureLambdaHandler(tracer, { captureResponse: false }));

const UNSUPPORTED_EVENT =
  'The webhook takes API Gateway HTTP API events (payload format 2.0, with rawPath and requestContext.http); see events/webhook.http-api-v2.json.';

const answer = (statusCode: number, body: unknown): APIGatewayProxyStructuredResultV2 => ({
  statusCode,
  headers: { 'content-type': 'application/json' },
  body: JSON.stringify(body),
});
