import type { z } from 'zod';
import {
  type Action,
  type CompletionError,
  type CompletionEvent,
  REQUEST_SCHEMAS,
  RequestId,
} from '../contracts/index.ts';
import { type CompletionDeps, eventFor, publishStored, unpublishedEvent } from './completion.ts';
import type { Clock, StoredRecord } from './ports.ts';

export type Issues = NonNullable<CompletionError['issues']>;

/** Issues reported of one request, and the length of each text: a huge body must not make a huge event. */
const MAX_ISSUES = 20;
const MAX_TEXT = 300;
const clip = (text: string) => (text.length > MAX_TEXT ? `${text.slice(0, MAX_TEXT - 1)}…` : text);

/**
 * The account a rejected body names, when it is one by its form (never arbitrary text): its Rejected record and
 * event are that account's, for the keys scoped to it and for consumers routing events by account.
 */
const accountIn = (body: unknown): string | undefined => {
  const named = typeof body === 'object' && body !== null && 'account' in body ? body.account : undefined;
  return typeof named === 'string' && /^[a-z0-9-]{1,32}$/.test(named) ? named : undefined;
};

/** The body's `requestId`, whatever it is (not yet trusted); undefined where the body has none. */
const requestIdIn = (body: unknown): unknown =>
  typeof body === 'object' && body !== null && 'requestId' in body ? body.requestId : undefined;

export const issuesOf = (error: z.ZodError): Issues => {
  const issues = error.issues.slice(0, MAX_ISSUES).map((issue) => ({
    path: clip(issue.path.join('.') || '(root)'),
    message: clip(issue.message),
  }));
  const more = error.issues.length - issues.length;
  return more > 0 ? [...issues, { path: '(root)', message: `${more} more issues not shown.` }] : issues;
};

/**
 * Bad input ends in a Rejected ledger entry and event. It is recorded under its request id when it has a usable
 * one that no valid request owns; otherwise under `fallbackId`, so that it never overwrites a real operation.
 * Each write is conditioned on no record of its id existing: a read first would race a valid request written
 * between the read and the write (its record would end Rejected while the cloud acts on it).
 */
export async function rejectRequest(
  deps: CompletionDeps & { clock: Clock },
  input: {
    action: Action;
    body: unknown;
    fallbackId: string;
    attempts: number;
    issues: Issues;
    /** Default InvalidRequest: the body does not match the contract. */
    code?: string;
    message?: string;
  },
): Promise<{ kind: 'rejected'; requestId: string; issues: Issues }> {
  const candidate = RequestId.safeParse(requestIdIn(input.body));
  const now = deps.clock.now();
  const account = accountIn(input.body);
  const rejectionOf = (requestId: string) => ({
    ...eventFor(
      { requestId, action: input.action, attempts: input.attempts, createdAt: now.toISOString() },
      'Rejected',
      now,
      {
        error: {
          code: input.code ?? 'InvalidRequest',
          kind: 'invalid',
          message: input.message ?? 'The request does not match the contract.',
          issues: input.issues,
        },
      },
    ),
    ...(account && { account }),
  });
  if (candidate.success) {
    const ended = await endNew(deps, rejectionOf(candidate.data));
    // Its own id holds a rejection already (a duplicate of it): that one stands.
    if (ended === 'written' || ended?.status === 'REJECTED')
      return { kind: 'rejected', requestId: candidate.data, issues: input.issues };
  }
  await endNew(deps, rejectionOf(input.fallbackId));
  return { kind: 'rejected', requestId: input.fallbackId, issues: input.issues };
}

/**
 * Writes a terminal record and its event where no record of that id exists, and publishes it. Where one exists,
 * it is left as it is (its event is published if a crash left it unpublished) and returned; undefined when it
 * cannot be read.
 */
async function endNew(
  deps: CompletionDeps,
  event: CompletionEvent,
): Promise<'written' | StoredRecord | undefined> {
  if (await deps.ledger.completeNew(event)) {
    await publishStored(deps, event);
    return 'written';
  }
  const existing = await deps.ledger.get(event.requestId).catch(() => undefined);
  // Only a record of a message like this one (no request on it); a request's event is its writer's to publish.
  const pending = existing && existing.request === undefined ? unpublishedEvent(existing) : undefined;
  if (pending) await publishStored(deps, pending);
  return existing;
}

/**
 * The last delivery of a message that failed every time (a fault of ours, or a store that refuses it): rather
 * than let it slip into the DLQ unseen, it ends Rejected as `Unprocessable`, unless its request is already on
 * the ledger, where the poller sees it through. Throws only when even that cannot be written.
 */
export async function giveUpDelivery(
  deps: CompletionDeps & { clock: Clock },
  input: { action: Action; body: unknown; messageId: string; receiveCount: number; reason: string },
): Promise<{ kind: 'on-ledger' | 'rejected'; requestId: string }> {
  const candidate = RequestId.safeParse(requestIdIn(input.body));
  // Its own record may be what fails (unreadable): then the rejection goes under the message id.
  const onLedger = candidate.success
    ? await deps.ledger.get(candidate.data).then(
        (record) => record?.request !== undefined,
        () => undefined,
      )
    : false;
  if (onLedger && candidate.success) return { kind: 'on-ledger', requestId: candidate.data };
  const rejected = await rejectRequest(deps, {
    action: input.action,
    body: onLedger === undefined ? undefined : input.body,
    fallbackId: `sqs:${input.messageId}`,
    attempts: input.receiveCount,
    code: 'Unprocessable',
    message: `The message could not be processed in ${input.receiveCount} deliveries.`,
    issues: [{ path: '(root)', message: clip(input.reason) }],
  });
  return { kind: 'rejected', requestId: rejected.requestId };
}

/**
 * A message its queue gave up on (a DLQ's consumer): nothing leaves the system unrecorded. A request already on
 * the ledger is the poller's to see through, and is left as it is; any other message ends `DeadLettered`, with
 * a terminal record and event, under its request id when it has a usable one that no record holds, otherwise
 * under `sqs:<messageId>`.
 */
export async function endDeadLetter(
  deps: CompletionDeps & { clock: Clock },
  input: { action: Action; body: unknown; messageId: string; receiveCount: number },
): Promise<{ kind: 'on-ledger' | 'dead-lettered'; requestId: string }> {
  const candidate = RequestId.safeParse(requestIdIn(input.body));
  // A record of its id that cannot be read is not this request's end: the message goes under its own id.
  const readable = candidate.success
    ? await deps.ledger.get(candidate.data).then(
        (record) => ({ record }),
        () => undefined,
      )
    : undefined;
  if (readable?.record) return { kind: 'on-ledger', requestId: readable.record.requestId };
  const parsed = REQUEST_SCHEMAS[input.action].safeParse(input.body);
  const now = deps.clock.now();
  const deadLetterOf = (requestId: string) =>
    eventFor(
      {
        requestId,
        action: input.action,
        ...(parsed.success && { request: parsed.data }),
        attempts: input.receiveCount,
        createdAt: now.toISOString(),
      },
      'DeadLettered',
      now,
      {
        error: {
          code: 'DeadLettered',
          message: `The message reached the dead-letter queue after ${input.receiveCount} deliveries without its request being recorded; it was not acted on.`,
        },
      },
    );
  if (readable && candidate.success) {
    const ended = await endNew(deps, deadLetterOf(candidate.data));
    // Written meanwhile (the request, or this same message's earlier end): that record stands.
    if (ended !== undefined)
      return { kind: ended === 'written' ? 'dead-lettered' : 'on-ledger', requestId: candidate.data };
  }
  const requestId = `sqs:${input.messageId}`;
  const ended = await endNew(deps, deadLetterOf(requestId));
  return { kind: ended === 'written' ? 'dead-lettered' : 'on-ledger', requestId };
}
