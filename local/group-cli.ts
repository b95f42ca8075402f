import type { GroupStatus } from '../shared/webhook/group-view.ts';
import { CliError, EXIT, runCli } from './cli.ts';
import { describeGroup } from './group-format.ts';
import { parseStatusApiCommandLine, refusalLine, signedCall, signingOf, TARGET_HELP } from './status-api.ts';

/**
 * npm run group -- <provider> <region> <groupId> [account] [--json]: why a group is or is not moving, from the signed
 * status API (GET /v1/groups/{provider}/{region}/{groupId}), on any stage.
 */
const USAGE =
  'usage: npm run group -- <aliyun|tencent> <region> <scalingGroupId> [account] [--json] [--url URL] [--secret SECRET] [--key-id ID]';
const HELP = `${USAGE}
Shows a scaling group as the ledger holds it (GET /v1/groups/{provider}/{region}/{groupId}): who holds its lease
and until when, the open intent (the call written before it is made) with its calls and the cloud's last
answer, a backoff, the running activity with its age and progress, the waiting requests, the last ten outcomes.
A member account's group (requests naming "account") is another group: name the account after the group id.
  --json            the status API's answer as it is
${TARGET_HELP}
Exit status: 0 shown; 1 the ledger holds nothing of the group (404); 2 usage, a refusal (401), or the webhook
not reachable.
`;
const { positionals, values } = parseStatusApiCommandLine(USAGE);
const url = values.url as string;

await runCli(async () => {
  if (values.help) {
    process.stdout.write(HELP);
    return EXIT.succeeded;
  }
  if (positionals.length !== 3 && positionals.length !== 4) throw new CliError('Usage', USAGE);
  const path = `/v1/groups/${positionals.map(encodeURIComponent).join('/')}`;
  const answer = await signedCall({ url, ...signingOf(values) }, 'GET', path);
  if (answer.status === 404) {
    process.stderr.write(`the ledger on ${url} holds nothing of group ${positionals.join(' ')}\n`);
    return EXIT.otherEnd;
  }
  if (answer.status !== 200) throw new CliError('Refused', `refused: ${refusalLine(answer)}`);
  process.stdout.write(
    values.json ? `${JSON.stringify(answer.body, null, 2)}\n` : describeGroup(answer.body as GroupStatus),
  );
  return EXIT.succeeded;
}, `cannot reach the webhook at ${url}: start the local stack with npm start, or pass --url`);
