import type { z } from 'zod';
import { type Action, type CompletionError, type CompletionEvent, RequestId } from '../contracts/index.ts';
import {
  type CompletionDeps,
  completeOperation,
  eventFor,
  publishStored,
  unpublishedEvent,
} from './completion.ts';
import type { Clock } from './ports.ts';

export type Issues = NonNullable<CompletionError['issues']>;

export const issuesOf = (error: z.ZodError): Issues =>
  error.issues.map((issue) => ({ path: issue.path.join('.') || '(root)', message: issue.message }));

/** A terminal request whose event was lost in a crash gets it published when it comes back. */
export async function completeOrRepublish(
  deps: CompletionDeps,
  event: CompletionEvent,
  callbackUrl?: string,
): Promise<void> {
  const won = await completeOperation(deps, event, callbackUrl);
  if (won) return;
  const existing = await deps.ledger.get(event.requestId);
  const pending = existing ? unpublishedEvent(existing) : undefined;
  if (pending) await publishStored(deps, pending, callbackUrl);
}

/**
 * Bad input ends in a Rejected ledger entry and event. It is recorded under its request id when it has a usable
 * one that no valid request owns; otherwise under `fallbackId`, so that it never overwrites a real operation.
 */
export async function rejectRequest(
  deps: CompletionDeps & { clock: Clock },
  input: { action: Action; body: unknown; fallbackId: string; attempts: number; issues: Issues },
): Promise<{ kind: 'rejected'; requestId: string; issues: Issues }> {
  const candidate = RequestId.safeParse((input.body as { requestId?: unknown } | null)?.requestId);
  let requestId = candidate.success ? candidate.data : input.fallbackId;
  const existing = await deps.ledger.get(requestId);
  if (existing && existing.status !== 'REJECTED') requestId = input.fallbackId;
  const now = deps.clock.now();
  const record = { requestId, action: input.action, attempts: input.attempts, createdAt: now.toISOString() };
  const event = eventFor(record, 'Rejected', now, {
    error: {
      code: 'InvalidRequest',
      kind: 'invalid',
      message: 'The request does not match the contract.',
      issues: input.issues,
    },
  });
  await completeOrRepublish(deps, event);
  return { kind: 'rejected', requestId, issues: input.issues };
}
