import { ACTIONS, type Action, OperationStatus, RequestId } from '../contracts/index.ts';
import { groupKeyOf } from '../detach/dispatch.ts';
import { acceptRequest, type IntakeDeps } from '../detach/intake.ts';
import type { StoredRecord } from '../detach/ports.ts';
import { describeHolder } from '../detach/submit.ts';
import {
  type SecretPair,
  SIGNATURE_HEADER,
  secretsOf,
  signedMessageDigest,
  verifySignature,
} from '../signing/webhook-signature.ts';
import { groupStatusOf } from './group-view.ts';

export interface WebhookRequest {
  method: string;
  path: string;
  /** Lower-cased names. */
  headers: Readonly<Record<string, string | undefined>>;
  rawBody: string;
}

export interface WebhookResponse {
  status: number;
  body: Record<string, unknown>;
}

export interface WebhookDeps extends IntakeDeps {
  /** The webhook's secrets: a request signed with the current or the previous one is accepted. */
  secret: (() => Promise<SecretPair>) | undefined;
  maxBodyBytes: number;
}

const OPERATIONS_PATH = /^\/v1\/operations\/([^/]+)$/;
const ACTION_PATH = /^\/v1\/([a-z-]+)$/;
const GROUP_PATH = /^\/v1\/groups\/([^/]+)\/([^/]+)\/([^/]+)$/;
/** What a provider, a region or a group id can be (anything else is not a group of ours: 404). */
const GROUP_PART = /^[A-Za-z0-9][A-Za-z0-9-]{0,63}$/;

const refuse = (
  status: number,
  code: string,
  message: string,
  extra: Record<string, unknown> = {},
): WebhookResponse => ({
  status,
  body: { error: { code, message, ...extra } },
});

export const statusUrlOf = (requestId: string) => `/v1/operations/${encodeURIComponent(requestId)}`;

/**
 * The webhook and the status API (operations and groups). Refusals are decided in this order: unknown route 404,
 * body too large 413, signature 401, content type 415, JSON or contract 422, a request id that names another
 * request 409. Only an accepted request reaches the queue.
 */
export async function handleWebhook(deps: WebhookDeps, request: WebhookRequest): Promise<WebhookResponse> {
  const statusMatch = request.method === 'GET' ? OPERATIONS_PATH.exec(request.path) : null;
  const groupMatch = request.method === 'GET' ? GROUP_PATH.exec(request.path) : null;
  const actionMatch = request.method === 'POST' ? ACTION_PATH.exec(request.path) : null;
  const action =
    actionMatch && (ACTIONS as string[]).includes(actionMatch[1] as string)
      ? (actionMatch[1] as Action)
      : undefined;
  if (!statusMatch && !groupMatch && !action)
    return refuse(404, 'NotFound', `No route ${request.method} ${request.path}`);
  if (Buffer.byteLength(request.rawBody, 'utf8') > deps.maxBodyBytes) {
    return refuse(413, 'PayloadTooLarge', `The body is over ${deps.maxBodyBytes} bytes.`);
  }
  // A GET has no body: its signed payload is the method and path, so a signature cannot be replayed elsewhere.
  const payload = statusMatch || groupMatch ? `GET ${request.path}` : request.rawBody;
  const secret = deps.secret ? await deps.secret() : undefined;
  const verified = secret
    ? verifySignature(request.headers[SIGNATURE_HEADER], secretsOf(secret), payload, deps.clock.now())
    : undefined;
  if (!verified?.ok) {
    return refuse(
      401,
      'Unauthorized',
      `The ${SIGNATURE_HEADER} header is ${verified?.reason ?? 'not checkable: no secret is configured'}.`,
    );
  }
  if (statusMatch) return operationStatus(deps, statusMatch[1] as string);
  if (groupMatch) return groupStatus(deps, groupMatch.slice(1, 4) as [string, string, string]);

  const contentType = request.headers['content-type'] ?? '';
  if (!/^application\/json\s*(;|$)/i.test(contentType)) {
    return refuse(415, 'UnsupportedMediaType', 'The body must be application/json.');
  }
  let body: unknown;
  try {
    body = JSON.parse(request.rawBody);
  } catch {
    return refuse(422, 'InvalidJson', 'The body is not valid JSON.', {
      issues: [{ path: '(root)', message: 'The body is not valid JSON.' }],
    });
  }
  // A body with no usable request id is rejected under a name of the signed message, so a replay of it (inside
  // the signature's tolerance) lands on the same Rejected record and adds no record and no event.
  const fallbackId = `webhook:${signedMessageDigest(verified.timestamp, request.rawBody).slice(0, 40)}`;
  const result = await acceptRequest(deps, action as Action, body, fallbackId);
  if (result.kind === 'invalid') {
    return refuse(422, 'InvalidRequest', 'The request does not match the contract.', {
      requestId: result.requestId,
      issues: result.issues,
    });
  }
  if (result.kind === 'conflict') {
    return refuse(409, 'RequestIdConflict', describeHolder(result.requestId, result.heldBy), {
      requestId: result.requestId,
      heldBy: result.heldBy,
    });
  }
  return {
    status: 202,
    body: { requestId: result.requestId, status: result.status, statusUrl: statusUrlOf(result.requestId) },
  };
}

/**
 * Only a well-formed request id reaches the ledger: anything else (a ledger key of another kind such as a group
 * item, a malformed escape) is answered like an id that does not exist.
 */
async function operationStatus(deps: WebhookDeps, encodedId: string): Promise<WebhookResponse> {
  let requestId: string | undefined;
  try {
    requestId = decodeURIComponent(encodedId);
  } catch {
    requestId = undefined;
  }
  const valid = requestId !== undefined && RequestId.safeParse(requestId).success;
  const record = valid ? await deps.ledger.get(requestId as string) : undefined;
  if (!record) return refuse(404, 'NotFound', 'No such operation.');
  return { status: 200, body: statusView(record) };
}

const decoded = (part: string) => {
  try {
    return decodeURIComponent(part);
  } catch {
    return undefined;
  }
};

/** The ledger's view of one group; a group it holds nothing of is 404, like a path that names none. */
async function groupStatus(deps: WebhookDeps, parts: [string, string, string]): Promise<WebhookResponse> {
  const [provider, region, groupId] = parts.map(decoded);
  const known = (part: string | undefined): part is string => part !== undefined && GROUP_PART.test(part);
  if (!known(provider) || !known(region) || !known(groupId)) return refuse(404, 'NotFound', 'No such group.');
  const description = await deps.ledger.describeGroup(
    groupKeyOf({ provider, region, scalingGroupId: groupId }),
  );
  const empty =
    !description.lease &&
    !description.intent &&
    !description.activity &&
    description.retryAfter === undefined &&
    description.waitingCount === 0 &&
    description.outcomes.length === 0;
  if (empty) return refuse(404, 'NotFound', 'The ledger holds nothing of this group.');
  return {
    status: 200,
    body: groupStatusOf({ provider, region, groupId }, description, deps.clock.now()),
  };
}

/** What a caller may see of a ledger record: its fields, never a token (the request's clientToken included). */
export function statusView(record: StoredRecord): Record<string, unknown> {
  const { clientToken: _token, request, ...visible } = record;
  const { clientToken: _requestToken, ...shownRequest } = (request ?? {}) as Record<string, unknown>;
  return OperationStatus.parse({
    ...visible,
    ...(request && { request: shownRequest }),
    statusUrl: statusUrlOf(record.requestId),
  });
}
