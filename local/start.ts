import { parseArgs } from 'node:util';
import { Logger } from '@aws-lambda-powertools/logger';
import { CliError, runCli } from './cli.ts';
import { portsInUse } from './services.ts';
import { DEFAULT_PORTS, type RunningStack, type StackPorts, startStack } from './stack.ts';
import { removeStackFile, writeStackFile } from './stack-file.ts';

/**
 * npm start: the local stack until Ctrl-C (SIGINT), SIGTERM, SIGHUP (the terminal closed) or the end of the
 * process that started it; each of them stops everything it started. `--ephemeral-ports` takes free ports
 * instead of the fixed ones, `--ports '<JSON>'` others (tests; the CLIs find them in .local/stack.json).
 */
const logger = new Logger({ serviceName: 'local-stack' });
const USAGE = "usage: npm start [-- --ephemeral-ports] [--ports '<JSON>'] [--json-logs]";
const HELP = `${USAGE}
Runs the whole service on this machine (README "Quick start") until Ctrl-C.
  --ephemeral-ports   free ports instead of the fixed ones (the CLIs find them in .local/stack.json)
  --ports '<JSON>'    other fixed ports, shaped like DEFAULT_PORTS in local/stack.ts
  --json-logs         the functions' log lines as JSON, as deployed stages write them (default: one compact
                      line each: time, level, function, message, data)
Exit status: 0 stopped; 2 a port is taken.
`;
const { values: options } = (() => {
  try {
    return parseArgs({
      options: {
        'ephemeral-ports': { type: 'boolean', default: false },
        ports: { type: 'string' },
        'json-logs': { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
    });
  } catch (error) {
    process.stderr.write(`${(error as Error).message}\n${USAGE}\n`);
    process.exit(2);
  }
})();
if (options.help) {
  process.stdout.write(HELP);
  process.exit(0);
}
const ephemeral = options['ephemeral-ports'];
/** `--ports '<JSON like DEFAULT_PORTS>'`: fixed ports other than the defaults (tests). */
const ports: StackPorts = options.ports ? (JSON.parse(options.ports) as StackPorts) : DEFAULT_PORTS;
// A closed terminal turns every write into EIO/EPIPE; stopping must go on regardless.
for (const stream of [process.stdout, process.stderr]) stream.on('error', () => undefined);

let stack: RunningStack | undefined;
let stopping = false;
const stop = async (reason: string) => {
  if (stopping) return;
  stopping = true;
  logger.info('stopping the local stack', { reason });
  // Still starting: the start stops what it started once it returns (below).
  if (!stack) return;
  await stack.stop();
  removeStackFile();
  process.exit(0);
};
// Installed before the start, so a signal during it stops what has started by then (see below).
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, () => void stop(signal));
// npm hands SIGTERM to the shell that runs this script, and that shell dies without passing it on: this
// process is then re-parented, which is the sign to stop.
const parent = process.ppid;
setInterval(() => {
  if (process.ppid !== parent) void stop('parent exited');
}, 500).unref();

await runCli(async () => {
  if (!ephemeral) {
    const busy = await portsInUse(Object.values(ports));
    if (busy.length > 0)
      throw new CliError(
        'PortInUse',
        `port ${busy.join(', ')} already in use: is another npm start running? Stop it (Ctrl-C in its terminal) or free the port`,
      );
  }
  logger.info('starting the local stack (first start bundles the functions; about 20 s)');
  stack = await startStack({
    logger,
    echoFunctionLogs: true,
    logForm: options['json-logs'] ? 'json' : 'compact',
    ports: ephemeral ? 'ephemeral' : ports,
  });
  if (stopping) {
    await stack.stop();
    return 0;
  }
  writeStackFile(stack.endpoints, stack.ports);
  printBanner(stack);
  // Runs until a signal or the parent's end calls stop().
  return new Promise<number>(() => undefined);
}, 'a local service could not be reached while starting');

function printBanner({ endpoints, resources, ports }: RunningStack) {
  process.stdout.write(`
scaling-detach is running locally.
  SQS (fauxqs)          ${endpoints.sqs}
  DynamoDB Local        ${endpoints.dynamodb}   table ${resources.ledgerTable}
  EventBridge emulator  ${endpoints.eventBridge}   bus ${resources.eventBusName} (MQTT :${ports.eventBridgePubSub})
  Cloud emulator        ${endpoints.emulator}   (state: ${endpoints.emulator}/admin/state)
  Webhook (HTTP API)    ${endpoints.http}
  Lambda (offline)      ${endpoints.lambda}

Send a detach request (in another terminal):
  npm run send -- detach-instances '{"requestId":"demo-1","provider":"aliyun","region":"cn-hangzhou","scalingGroupId":"asg-demo0001","instanceIds":["i-demo0001"]}'
Ctrl-C stops everything.
`);
}
