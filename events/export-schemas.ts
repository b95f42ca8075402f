import { writeFileSync } from 'node:fs';
import { z } from 'zod';
import {
  ACTIONS,
  AcceptedResponse,
  CompletionEvent,
  ErrorResponse,
  OperationStatus,
  REQUEST_SCHEMAS,
} from '../shared/contracts/index.ts';
import { SIGNATURE_HEADER } from '../shared/signing/webhook-signature.ts';
import { GroupStatus } from '../shared/webhook/group-view.ts';

/** The JSON Schemas of the contracts, written to events/schemas; a test keeps them equal to the zod source. */
export const SCHEMAS: Record<string, z.ZodType> = {
  ...Object.fromEntries(
    Object.entries(REQUEST_SCHEMAS).map(([action, schema]) => [`${action}-request`, schema]),
  ),
  'completion-event': CompletionEvent,
};

export const schemaText = (schema: z.ZodType): string =>
  `${JSON.stringify(z.toJSONSchema(schema, { target: 'draft-2020-12', io: 'input' }), null, 2)}\n`;

const jsonSchema = (schema: z.ZodType) => z.toJSONSchema(schema, { target: 'openapi-3.0', io: 'input' });

const errorResponse = (description: string) => ({
  description,
  content: { 'application/json': { schema: { $ref: '#/components/schemas/ErrorResponse' } } },
});

/** The webhook and status routes as OpenAPI 3.0, from the same zod contracts the function validates with. */
export function openApiDocument() {
  const signature = {
    name: SIGNATURE_HEADER,
    in: 'header',
    required: true,
    description:
      '[keyId=<caller key id>,]t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<payload>")>; payload: the raw body (POST) or "GET <path>" (GET). Within 5 minutes. Without keyId: the webhook secret (the default caller, every account); with it: that caller\'s secret (docs/accounts.md "Caller keys").',
    schema: { type: 'string' },
  };
  const post = (action: string) => ({
    post: {
      operationId: `post-${action}`,
      summary: `Request ${action}`,
      parameters: [signature],
      requestBody: {
        required: true,
        content: { 'application/json': { schema: { $ref: `#/components/schemas/${action}-request` } } },
      },
      responses: {
        202: {
          description:
            'Accepted and enqueued (or the same request already known: its status, not enqueued again)',
          content: { 'application/json': { schema: { $ref: '#/components/schemas/AcceptedResponse' } } },
        },
        401: errorResponse('Missing, invalid or stale signature, or an unknown key id'),
        403: errorResponse(
          "AccountNotAllowed: the caller's key may not act on the request's account (no account: the deployment's own); nothing is recorded",
        ),
        404: errorResponse('Unknown route'),
        413: errorResponse('Body over the size limit'),
        409: errorResponse(
          'RequestIdConflict: the request id names another request (another body or action); heldBy gives its action and group',
        ),
        415: errorResponse('Not application/json'),
        422: errorResponse('Invalid JSON, or the contract refused it: issues with field paths'),
      },
    },
  });
  return {
    openapi: '3.0.3',
    info: { title: 'scaling-detach webhook', version: '1' },
    paths: {
      ...Object.fromEntries(ACTIONS.map((action) => [`/v1/${action}`, post(action)])),
      '/v1/operations/{requestId}': {
        get: {
          operationId: 'get-operation',
          summary: 'The ledger record of a request',
          parameters: [
            signature,
            { name: 'requestId', in: 'path', required: true, schema: { type: 'string' } },
          ],
          responses: {
            200: {
              description: 'The operation',
              content: { 'application/json': { schema: { $ref: '#/components/schemas/OperationStatus' } } },
            },
            401: errorResponse('Missing, invalid or stale signature, or an unknown key id'),
            404: errorResponse("No such operation (or another account's, for a scoped key)"),
          },
        },
      },
      '/v1/groups/{provider}/{region}/{groupId}': {
        get: {
          operationId: 'get-group',
          summary:
            'A scaling group as the ledger holds it: lease, open intent and its last answer, running activity, waiting requests, the last ten outcomes',
          parameters: [
            signature,
            {
              name: 'provider',
              in: 'path',
              required: true,
              schema: { type: 'string', enum: ['aliyun', 'tencent'] },
            },
            { name: 'region', in: 'path', required: true, schema: { type: 'string' } },
            { name: 'groupId', in: 'path', required: true, schema: { type: 'string' } },
          ],
          responses: {
            200: {
              description: 'The group',
              content: { 'application/json': { schema: { $ref: '#/components/schemas/GroupStatus' } } },
            },
            401: errorResponse('Missing, invalid or stale signature, or an unknown key id'),
            404: errorResponse(
              "The ledger holds nothing of this group (for a scoped key: of its accounts' requests)",
            ),
          },
        },
      },
      '/v1/groups/{provider}/{region}/{groupId}/{account}': {
        get: {
          operationId: 'get-account-group',
          summary:
            "A member account's scaling group (requests naming that account) as the ledger holds it: lease, open intent and its last answer, running activity, waiting requests, the last ten outcomes",
          parameters: [
            signature,
            {
              name: 'provider',
              in: 'path',
              required: true,
              schema: { type: 'string', enum: ['aliyun', 'tencent'] },
            },
            { name: 'region', in: 'path', required: true, schema: { type: 'string' } },
            { name: 'groupId', in: 'path', required: true, schema: { type: 'string' } },
            {
              name: 'account',
              in: 'path',
              required: true,
              schema: { type: 'string', pattern: '^[a-z0-9-]{1,32}$' },
            },
          ],
          responses: {
            200: {
              description: 'The group',
              content: { 'application/json': { schema: { $ref: '#/components/schemas/GroupStatus' } } },
            },
            401: errorResponse('Missing, invalid or stale signature, or an unknown key id'),
            404: errorResponse(
              "The ledger holds nothing of this group (for a scoped key: of its accounts' requests)",
            ),
          },
        },
      },
    },
    components: {
      schemas: {
        ...Object.fromEntries(
          Object.entries(REQUEST_SCHEMAS).map(([action, schema]) => [
            `${action}-request`,
            jsonSchema(schema),
          ]),
        ),
        AcceptedResponse: jsonSchema(AcceptedResponse),
        ErrorResponse: jsonSchema(ErrorResponse),
        OperationStatus: jsonSchema(OperationStatus),
        GroupStatus: jsonSchema(GroupStatus),
      },
    },
  };
}

export const openApiText = (): string => `${JSON.stringify(openApiDocument(), null, 2)}\n`;

if (import.meta.url === `file://${process.argv[1]}`) {
  for (const [name, schema] of Object.entries(SCHEMAS)) {
    writeFileSync(new URL(`./schemas/${name}.schema.json`, import.meta.url), schemaText(schema));
  }
  writeFileSync(new URL('./openapi.json', import.meta.url), openApiText());
}
