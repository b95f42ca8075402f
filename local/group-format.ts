import type { GroupStatus } from '../shared/webhook/group-view.ts';

const error = (e: { code: string; message: string; kind?: string | undefined }) =>
  `${e.code}: ${e.message}${e.kind ? ` (${e.kind})` : ''}`;

/** The group as lines a person reads top to bottom: what holds it, what runs, what waits, what ended. */
export function describeGroup(group: GroupStatus): string {
  const rows: [string, string][] = [['group', `${group.provider} ${group.region} ${group.groupId}`]];
  const { lease, intent, activity } = group;
  rows.push([
    'lease',
    !lease
      ? 'free'
      : lease.live
        ? `held by ${lease.owner} until ${lease.until} (${lease.expiresInSeconds} s left)`
        : `free (last held by ${lease.owner}, ran out ${-lease.expiresInSeconds} s ago)`,
  ]);
  rows.push(['backoff', group.retryAfter ? `nothing is sent before ${group.retryAfter}` : 'none']);
  rows.push([
    'intent',
    !intent
      ? 'none'
      : `${intent.id} ${intent.action} for ${intent.requestIds.join(', ')}${intent.instanceIds ? ` (instances ${intent.instanceIds.join(', ')})` : ''}; written ${intent.createdAt}, called ${intent.calls} time${intent.calls === 1 ? '' : 's'}${intent.calledAt ? `, last ${intent.calledAt}` : ''}; last answer: ${intent.lastAnswer ? error(intent.lastAnswer) : 'none yet'}`,
  ]);
  rows.push([
    'activity',
    !activity
      ? 'none'
      : `${activity.activityId} running${activity.ageSeconds !== undefined ? ` for ${activity.ageSeconds} s` : ''}${activity.progress ? `, ${activity.progress.statusCode}${activity.progress.progress !== undefined ? ` ${activity.progress.progress}%` : ''}` : ''}; requests ${activity.requestIds.join(', ') || '(not found)'}`,
  ]);
  rows.push(['waiting', `${group.waiting.count}${group.waiting.count > 0 ? ', oldest first:' : ''}`]);
  const lines = rows.map(([name, text]) => `${name.padEnd(9)} ${text}`);
  for (const request of group.waiting.oldest)
    lines.push(
      `  ${request.createdAt} ${request.requestId} ${request.action}${request.attempts ? `, ${request.attempts} attempts` : ''}${request.lastError ? `, last answer ${error(request.lastError)}` : ''}`,
    );
  if (group.waiting.count > group.waiting.oldest.length)
    lines.push(`  ... and ${group.waiting.count - group.waiting.oldest.length} more`);
  lines.push(`${'outcomes'.padEnd(9)} ${group.outcomes.length ? 'the last ten, newest first:' : 'none'}`);
  for (const outcome of group.outcomes)
    lines.push(
      `  ${outcome.completedAt ?? '-'} ${outcome.requestId} ${outcome.status}${outcome.error ? ` ${outcome.error.code}: ${outcome.error.message}` : ''}`,
    );
  return `${lines.join('\n')}\n`;
}
