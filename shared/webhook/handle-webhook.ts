import { ACTIONS, type Action, OperationStatus, REQUEST_SCHEMAS, RequestId } from '../contracts/index.ts';
import { groupKeyOf } from '../detach/dispatch.ts';
import { acceptRequest, type IntakeDeps } from '../detach/intake.ts';
import type { StoredRecord } from '../detach/ports.ts';
import { describeHolder } from '../detach/submit.ts';
import { type SecretPair, SIGNATURE_HEADER, signedMessageDigest } from '../signing/webhook-signature.ts';
import {
  ALL_ACCOUNTS,
  authenticate,
  type Caller,
  type CallerKeys,
  maySee,
  mayUseAccount,
  OWN_ACCOUNT,
} from './callers.ts';
import { groupStatusOf, scopedTo } from './group-view.ts';

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
  /** The key id of the caller that was answered, for the log (never in the body); absent: the default caller. */
  keyId?: string;
}

export interface WebhookDeps extends IntakeDeps {
  /** The webhook's secrets: a request signed with the current or the previous one is accepted. */
  secret: (() => Promise<SecretPair>) | undefined;
  /** The keyed callers (docs/accounts.md "Caller keys"); absent: only the default caller. */
  callerKeys?: (() => Promise<CallerKeys>) | undefined;
  maxBodyBytes: number;
}

const OPERATIONS_PATH = /^\/v1\/operations\/([^/]+)$/;
const ACTION_PATH = /^\/v1\/([a-z-]+)$/;
/** provider, region, group id, and the member account if the group is one's. */
type GroupPath = [string, string, string, string | undefined];
const GROUP_PATH = /^\/v1\/groups\/([^/]+)\/([^/]+)\/([^/]+)(?:\/([^/]+))?$/;
/** What a request's `account` can be (shared/contracts/detach-request.ts). */
const ACCOUNT_NAME = /^[a-z0-9-]{1,32}$/;
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
 * body too large 413, signature or key 401, content type 415, JSON 422, an account the caller's key may not use
 * 403, contract 422, a request id that names another request 409. Only an accepted request reaches the queue;
 * a 403 leaves nothing on the ledger. The status API shows a caller only its accounts' requests.
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
  const verified = await authenticate(
    { webhookSecret: deps.secret, callerKeys: deps.callerKeys },
    request.headers[SIGNATURE_HEADER],
    payload,
    deps.clock.now(),
  );
  if (!verified.ok) {
    const reason =
      verified.reason === 'not configured' ? 'not checkable: no secret is configured' : verified.reason;
    return refuse(401, 'Unauthorized', `The ${SIGNATURE_HEADER} header is ${reason}.`);
  }
  const { caller } = verified;
  const response = statusMatch
    ? await operationStatus(deps, caller, statusMatch[1] as string)
    : groupMatch
      ? await groupStatus(deps, caller, groupMatch.slice(1, 5) as GroupPath)
      : await acceptPost(deps, request, caller, action as Action, verified.timestamp);
  return caller.keyId === undefined ? response : { ...response, keyId: caller.keyId };
}

/** A signed POST: its body checked, its account against the caller's, then accepted (or refused) as a request. */
async function acceptPost(
  deps: WebhookDeps,
  request: WebhookRequest,
  caller: Caller,
  action: Action,
  timestamp: number,
): Promise<WebhookResponse> {
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
  // The default caller and "*" keys may use every account: their bodies are validated once, as before.
  const account = caller.accounts === ALL_ACCOUNTS ? undefined : accountNamedBy(action, body);
  if (!mayUseAccount(caller, account)) {
    // An account name is echoed only when it is one: a body's arbitrary text is not.
    const named =
      account === undefined
        ? `${OWN_ACCOUNT} (the deployment's own)`
        : ACCOUNT_NAME.test(account)
          ? account
          : 'it names';
    return refuse(403, 'AccountNotAllowed', `The key ${caller.keyId} may not act on the account ${named}.`);
  }
  // A body with no usable request id is rejected under a name of the signed message, so a replay of it (inside
  // the signature's tolerance) lands on the same Rejected record and adds no record and no event.
  const fallbackId = `webhook:${signedMessageDigest(timestamp, request.rawBody).slice(0, 40)}`;
  const result = await acceptRequest(deps, action, body, fallbackId);
  if (result.kind === 'invalid') {
    return refuse(422, 'InvalidRequest', 'The request does not match the contract.', {
      requestId: result.requestId,
      issues: result.issues,
    });
  }
  if (result.kind === 'refused') {
    return refuse(422, result.code, result.message, { requestId: result.requestId, issues: result.issues });
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
 * The account a body names: the validated request's, or, for a body the contract refuses, its `account` field if
 * that is a string (so that a key cannot leave a Rejected record in another account's name either). Checking it
 * validates the body once more than acceptRequest does; that costs far less than a ledger write.
 */
function accountNamedBy(action: Action, body: unknown): string | undefined {
  const parsed = REQUEST_SCHEMAS[action].safeParse(body);
  if (parsed.success) return parsed.data.account;
  const named = (body as { account?: unknown } | null)?.account;
  return typeof named === 'string' ? named : undefined;
}

/**
 * Only a well-formed request id reaches the ledger: anything else (a ledger key of another kind such as a group
 * item, a malformed escape) is answered like an id that does not exist; so is another account's request, so that
 * a key learns nothing of the ids of accounts it may not use.
 */
async function operationStatus(
  deps: WebhookDeps,
  caller: Caller,
  encodedId: string,
): Promise<WebhookResponse> {
  let requestId: string | undefined;
  try {
    requestId = decodeURIComponent(encodedId);
  } catch {
    requestId = undefined;
  }
  const valid = requestId !== undefined && RequestId.safeParse(requestId).success;
  const record = valid ? await deps.ledger.get(requestId as string) : undefined;
  if (!record || !maySee(caller, record)) return refuse(404, 'NotFound', 'No such operation.');
  return { status: 200, body: statusView(record) };
}

const decoded = (part: string) => {
  try {
    return decodeURIComponent(part);
  } catch {
    return undefined;
  }
};

/**
 * The ledger's view of one group, as much of it as concerns the caller's accounts; a group it holds nothing of
 * (for this caller) is 404, like a path that names none.
 */
async function groupStatus(deps: WebhookDeps, caller: Caller, parts: GroupPath): Promise<WebhookResponse> {
  const [provider, region, groupId, account] = parts.map((part) =>
    part === undefined ? part : decoded(part),
  );
  const known = (part: string | undefined): part is string => part !== undefined && GROUP_PART.test(part);
  if (!known(provider) || !known(region) || !known(groupId)) return refuse(404, 'NotFound', 'No such group.');
  if (parts[3] !== undefined && (account === undefined || !ACCOUNT_NAME.test(account)))
    return refuse(404, 'NotFound', 'No such group.');
  const whole = await deps.ledger.describeGroup(
    groupKeyOf({ provider, region, scalingGroupId: groupId, ...(account !== undefined && { account }) }),
  );
  const description =
    caller.accounts === ALL_ACCOUNTS ? whole : scopedTo(whole, (record) => maySee(caller, record));
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
    ...(request?.account && { account: request.account }),
    ...(request && { request: shownRequest }),
    statusUrl: statusUrlOf(record.requestId),
  });
}
