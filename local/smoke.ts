import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { CompletionEvent } from '../shared/contracts/index.ts';
import { CliError, EXIT, isFinal, parseRequest, runCli } from './cli.ts';
import { statusLine } from './follow.ts';
import { LOCAL_WEBHOOK_SECRET } from './stack.ts';
import { localEndpoints } from './stack-file.ts';
import { refusalLine, signedCall, TARGET_HELP } from './status-api.ts';

/**
 * npm run smoke: a smoke test of a stack, local or deployed. Sends one signed detach-instances request with
 * `dryRun: true` through the webhook and follows the status API until its DryRun event is published. A dry run
 * reads the group and the instances (the preflight) and changes nothing.
 */
const USAGE =
  'usage: npm run smoke -- [--provider aliyun|tencent] [--region R] [--group ID] [--instance ID] [--url URL] [--secret SECRET] [--timeout SECONDS]';
const HELP = `${USAGE}
Sends a signed detach-instances request with dryRun: true through the webhook, and follows it through the
status API to its DryRun completion event (published to the bus). Nothing in the group changes.
  --provider, --region, --group, --instance
                    a real group and one of its instances (deployed: the preflight reads them with the
                    stage's cloud keys); default the local stack's demo group, aliyun cn-hangzhou asg-demo0001,
                    i-demo0003
${TARGET_HELP}
  --timeout SECONDS how long to follow (300)
Exit status: 0 the DryRun event was published with a plan; 1 the preflight refused the plan (a wrong group or
instance), the request ended otherwise (the line says why) or the smoke test gave up waiting;
2 usage, a refusal by the webhook (401, 422), or the webhook not reachable.
`;
const { values } = parseCommandLine();
const url = values.url as string;
const print = (line: string) => process.stdout.write(`${new Date().toISOString()} ${line}\n`);

await runCli(async () => {
  if (values.help) {
    process.stdout.write(HELP);
    return EXIT.succeeded;
  }
  const timeoutSeconds = Number(values.timeout);
  if (!Number.isFinite(timeoutSeconds) || timeoutSeconds <= 0)
    throw new CliError('Usage', `--timeout must be a positive number of seconds\n${USAGE}`);
  const body = JSON.stringify({
    requestId: `smoke-${new Date().toISOString().replace(/\D/g, '').slice(0, 14)}-${randomBytes(3).toString('hex')}`,
    provider: values.provider,
    region: values.region,
    scalingGroupId: values.group,
    instanceIds: [values.instance],
    dryRun: true,
  });
  const { request } = parseRequest('detach-instances', body, USAGE);
  const target = { url, secret: values.secret as string };
  const accepted = await signedCall(target, 'POST', '/v1/detach-instances', body);
  if (accepted.status !== 202) throw new CliError('Refused', `refused: ${refusalLine(accepted)}`);
  print(
    `accepted ${request.requestId} (dry run on ${request.provider} ${request.region} ${request.scalingGroupId})`,
  );
  const statusUrl = accepted.body.statusUrl as string;
  const deadline = Date.now() + timeoutSeconds * 1000;
  let last = '';
  while (Date.now() < deadline) {
    const { status, body: record } = await signedCall(target, 'GET', statusUrl);
    if (status !== 200)
      throw new CliError('Refused', `the status API refused: ${refusalLine({ status, body: record })}`);
    const line = statusLine(record as Parameters<typeof statusLine>[0]);
    if (line !== last) print(line);
    last = line;
    if (isFinal(String(record.status)) && record.eventPublishedAt) {
      const event = CompletionEvent.parse(record.event);
      process.stdout.write(`${JSON.stringify(event, null, 2)}\n`);
      // A dry run always ends DryRun; a plan the preflight refused carries its error (a wrong group or instance).
      if (event.status === 'DryRun' && event.error) {
        print(
          `smoke test failed: the dry run's preflight refused it (${event.error.code}: ${event.error.message}); check --group and --instance`,
        );
        return EXIT.otherEnd;
      }
      if (event.status === 'DryRun') {
        print(`smoke test passed: the DryRun event ${event.eventId} was published`);
        return EXIT.succeeded;
      }
      print(`smoke test failed: the request ended ${event.status}, not DryRun`);
      return EXIT.otherEnd;
    }
    await sleep(1000);
  }
  print(`smoke test gave up after ${timeoutSeconds} s (see npm run status -- ${request.requestId})`);
  return EXIT.otherEnd;
}, `cannot reach the webhook at ${url}: start the local stack with npm start, or pass --url`);

function parseCommandLine() {
  try {
    return parseArgs({
      options: {
        url: { type: 'string', default: process.env.SCALING_DETACH_URL ?? localEndpoints().http },
        secret: { type: 'string', default: process.env.SCALING_DETACH_SECRET ?? LOCAL_WEBHOOK_SECRET },
        provider: { type: 'string', default: 'aliyun' },
        region: { type: 'string', default: 'cn-hangzhou' },
        group: { type: 'string', default: 'asg-demo0001' },
        instance: { type: 'string', default: 'i-demo0003' },
        timeout: { type: 'string', default: '300' },
        help: { type: 'boolean', short: 'h', default: false },
      },
    });
  } catch (error) {
    process.stderr.write(`${(error as Error).message}\n${USAGE}\n`);
    process.exit(EXIT.usage);
  }
}
