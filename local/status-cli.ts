import { CliError, EXIT, isFinal, runCli } from './cli.ts';
import { statusLine } from './follow.ts';
import { parseStatusApiCommandLine, refusalLine, signedCall, signingOf, TARGET_HELP } from './status-api.ts';

/**
 * npm run status -- <requestId> [--json] [--url URL] [--secret SECRET]: one request as the signed status API
 * shows it (GET /v1/operations/{requestId}), on any stage.
 */
const USAGE = 'usage: npm run status -- <requestId> [--json] [--url URL] [--secret SECRET] [--key-id ID]';
const HELP = `${USAGE}
Shows one request as the signed status API has it (GET /v1/operations/{requestId}): status, why it ended or
where it waits, its group, activity and progress, attempts, its event and callback.
  --json            the status API's answer as it is
${TARGET_HELP}
Exit status: 0 shown; 1 no such request (404; for a scoped key, also another account's); 2 usage, a refusal
(401), or the webhook not reachable.
`;
const { positionals, values } = parseStatusApiCommandLine(USAGE);
const url = values.url as string;

await runCli(async () => {
  if (values.help) {
    process.stdout.write(HELP);
    return EXIT.succeeded;
  }
  const [requestId, ...extra] = positionals;
  if (!requestId || extra.length > 0) throw new CliError('Usage', USAGE);
  const answer = await signedCall(
    { url, ...signingOf(values) },
    'GET',
    `/v1/operations/${encodeURIComponent(requestId)}`,
  );
  if (answer.status === 404) {
    process.stderr.write(`no request ${requestId} on ${url}\n`);
    return EXIT.otherEnd;
  }
  if (answer.status !== 200) throw new CliError('Refused', `refused: ${refusalLine(answer)}`);
  process.stdout.write(values.json ? `${JSON.stringify(answer.body, null, 2)}\n` : describe(answer.body));
  return EXIT.succeeded;
}, `cannot reach the webhook at ${url}: start the local stack with npm start, or pass --url`);

function describe(record: Record<string, unknown>): string {
  const r = record as {
    requestId: string;
    action: string;
    status: string;
    provider?: string;
    region?: string;
    scalingGroupId?: string;
    instanceIds?: string[];
    serverGroupIds?: string[];
    activityId?: string;
    cloudProgress?: { statusCode: string; progress?: number };
    attempts: number;
    lastError?: { code: string; message: string; kind?: string };
    event?: { status: string; eventId?: string; error?: { code: string; message: string } };
    eventPublishedAt?: string;
    callback?: { url: string; attempts: number; deliveredAt?: string; lastError?: string; gaveUpAt?: string };
    createdAt: string;
    submittedAt?: string;
    completedAt?: string;
  };
  const rows: [string, string][] = [
    ['request', `${r.requestId} (${r.action})`],
    ['status', statusLine(r)],
  ];
  if (r.provider && r.region && r.scalingGroupId)
    rows.push([
      'group',
      `${r.provider} ${r.region} ${r.scalingGroupId}   (npm run group -- ${r.provider} ${r.region} ${r.scalingGroupId})`,
    ]);
  const targets = [...(r.instanceIds ?? []), ...(r.serverGroupIds ?? [])];
  if (targets.length) rows.push(['targets', targets.join(', ')]);
  // The cloud's progress matters while the activity runs; an ended request says how it ended above.
  if (isFinal(r.status)) delete r.cloudProgress;
  if (r.activityId || r.cloudProgress)
    rows.push([
      'activity',
      `${r.activityId ?? '-'}${r.cloudProgress ? `  ${r.cloudProgress.statusCode}${r.cloudProgress.progress !== undefined ? ` ${r.cloudProgress.progress}%` : ''}` : ''}`,
    ]);
  rows.push([
    'attempts',
    `${r.attempts}${r.lastError ? `; last answer ${r.lastError.code}: ${r.lastError.message}${r.lastError.kind ? ` (${r.lastError.kind})` : ''}` : ''}`,
  ]);
  rows.push([
    'times',
    [
      `created ${r.createdAt}`,
      ...(r.submittedAt ? [`submitted ${r.submittedAt}`] : []),
      ...(r.completedAt ? [`completed ${r.completedAt}`] : []),
    ].join(', '),
  ]);
  if (r.event)
    rows.push([
      'event',
      `${r.event.status}${r.event.eventId ? ` ${r.event.eventId}` : ''}, ${r.eventPublishedAt ? `published ${r.eventPublishedAt}` : 'not yet published'}`,
    ]);
  if (r.callback)
    rows.push([
      'callback',
      `${r.callback.url}: ${r.callback.deliveredAt ? `delivered ${r.callback.deliveredAt}` : r.callback.gaveUpAt ? `gave up ${r.callback.gaveUpAt}` : 'not yet delivered'} (${r.callback.attempts} attempts${r.callback.lastError ? `, last ${r.callback.lastError}` : ''})`,
    ]);
  return `${rows.map(([name, text]) => `${name.padEnd(9)} ${text}`).join('\n')}\n`;
}
