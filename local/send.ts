import { parseArgs } from 'node:util';
import { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { groupKeyOf } from '../shared/detach/dispatch.ts';
import { CliError, EXIT, parseRequest, runCli } from './cli.ts';
import { followOnLedger } from './follow.ts';
import { stackResources } from './resources.ts';
import { LOCAL_AWS } from './services.ts';
import { localEndpoints } from './stack-file.ts';

/**
 * Enqueues one request on the local stack (npm start) and follows its ledger record to the completion event.
 *   npm run send -- <action> '<request JSON>' [--no-follow]
 * Exit status: 0 Succeeded or DryRun, 1 any other end (or gave up waiting), 2 usage, a request the contract
 * refuses, or the stack not running.
 */
const resources = stackResources('local');
const USAGE = `usage: npm run send -- <${resources.queues.map((q) => q.action).join('|')}> '<request JSON>' [--no-follow]`;
const HELP = `${USAGE}
Enqueues the request on the local stack's queue (npm start) and follows it to its completion event.
  --no-follow   print "queued <requestId>" and exit 0 without waiting
Exit status: 0 Succeeded or DryRun; 1 any other end, or gave up waiting (5 minutes); 2 usage, a request the
contract refuses, or the stack not running.
`;
const endpoints = localEndpoints();

await runCli(async () => {
  const { positionals, values } = parseCommandLine();
  if (values.help) {
    process.stdout.write(HELP);
    return EXIT.succeeded;
  }
  const { action, request } = parseRequest(positionals[0], positionals[1], USAGE);
  const binding = resources.queues.find((q) => q.action === action);
  if (!binding) throw new CliError('UnknownAction', USAGE);
  const sqs = new SQSClient({ ...LOCAL_AWS, endpoint: endpoints.sqs, maxAttempts: 1 });
  await sqs.send(
    new SendMessageCommand({
      QueueUrl: `${endpoints.sqs}/000000000000/${binding.queueName}`,
      // The text as given, so that what the function reads is what the user typed.
      MessageBody: positionals[1] as string,
      MessageGroupId: groupKeyOf(request),
      MessageDeduplicationId: request.requestId,
    }),
  );
  sqs.destroy();
  process.stdout.write(`queued ${request.requestId}\n`);
  if (values['no-follow']) return EXIT.succeeded;
  return followOnLedger(endpoints, request.requestId);
}, `cannot reach the local stack at ${endpoints.sqs}: start it with npm start (in another terminal)`);

function parseCommandLine() {
  try {
    return parseArgs({
      allowPositionals: true,
      options: {
        'no-follow': { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
    });
  } catch (error) {
    throw new CliError('Usage', `${(error as Error).message}\n${USAGE}`);
  }
}
