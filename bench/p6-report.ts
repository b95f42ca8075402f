import { loadavg } from 'node:os';
import { measureCosts, PASS_INTERVAL_MS, pollerMonth, stepFunctionsFor60s } from './p6-cost.ts';
import { FUNCTION_GB, PRICES } from './prices.ts';

const usd = (x: number) => (x >= 100 ? `$${Math.round(x)}` : `$${x.toFixed(2)}`);
const n1 = (x: number) => (Number.isInteger(x) ? String(x) : x.toFixed(1));

/** P6's section of BENCHMARKS.md: what a request costs, counted on the local stack, priced in bench/prices.ts. */
export async function reportCosts(): Promise<string[]> {
  const [load = 0] = loadavg();
  const { idlePass, openPass, scenarios } = await measureCosts();
  const out: string[] = [];
  const line = (text = '') => out.push(text);
  line('## P6: what a request costs');
  line();
  line(
    '`npm run bench -- p6`. The whole local stack (`local/stack.ts`: the functions in serverless-offline, the',
  );
  line(
    'queue bridge, the scheduler, the HTTP API) with every call of the functions to DynamoDB Local, fauxqs and the',
  );
  line('EventBridge emulator, and every invocation of a function, going through a metering proxy');
  line('(`local/aws-call-meter.ts`). DynamoDB units are the ones DynamoDB Local reports when asked');
  line(
    '(`ReturnConsumedCapacity: "INDEXES"` added to every request): 1 write unit per started KB per item, twice in',
  );
  line(
    'a transaction, again for each index holding the item; an eventually consistent read half a unit per 4 KB.',
  );
  line(
    'Added to what it reports: a Query that finds nothing is billed half a unit (DynamoDB Local says 0), and a',
  );
  line(
    'single write whose condition failed 1 unit (its answer carries no capacity). Priced with `bench/prices.ts`',
  );
  line(
    '(AWS list prices, us-east-1: DynamoDB on-demand $0.625 per million write units, $0.125 per million read',
  );
  line(
    'units; SQS FIFO $0.50 per million requests; EventBridge $1 per million events; Lambda $0.20 per million',
  );
  line('requests plus $0.0000166667 per GB-second at 512 MB).');
  line();
  line(
    `The scheduler runs one pass every ${PASS_INTERVAL_MS / 1000} s (the deployed POLL_INTERVAL_SECONDS). A pass's base (the reads every pass makes, nothing open):`,
  );
  line(
    `${n1(idlePass.dynamodbCalls)} DynamoDB calls, ${n1(idlePass.readUnits)} read units, ${n1(idlePass.writeUnits)} write units, measured over ${idlePass.passes} idle passes; a`,
  );
  line(
    "scenario's figures are its counts less that base for each of the passes it spanned, per request. The poller's",
  );
  line(
    'Lambda time is the base too (a pass follows every open request at once): it is in the monthly table, not here.',
  );
  line("A request's Lambda: its function's invocations (the webhook's too) as the meter timed them through");
  line(
    "serverless-offline (an upper bound of the billed duration), and record-delivery's, one per event (invoked inside",
  );
  line(
    "serverless-offline, out of the meter's sight: priced at the mean of the others). SQS: the producer's",
  );
  line(
    'SendMessage, what the functions call, and a receive and a delete per batch the event source delivers.',
  );
  line(`Load average when the run began: ${load.toFixed(1)} (2 cores).`);
  line();
  line(
    '| scenario | passes | DynamoDB calls | write units (index copies) | read units | SQS requests | events | Lambda invocations (s) | $ per million requests |',
  );
  line('|---|---|---|---|---|---|---|---|---|');
  for (const s of scenarios) {
    line(
      `| ${s.name} | ${s.passes} | ${n1(s.dynamodbCalls)} | ${n1(s.writeUnits)} (${n1(s.indexWriteUnits)}) | ${n1(s.readUnits)} | ${n1(s.sqsRequests)} | ${n1(s.events)} | ${n1(s.lambdaInvocations)} (${s.lambdaSeconds.toFixed(2)}) | ${usd(s.dollarsPerMillion.total)} |`,
    );
  }
  line();
  line('Where the dollars go, per million requests, and the DynamoDB calls per request by operation:');
  line();
  line('| scenario | DynamoDB | SQS | EventBridge | Lambda | DynamoDB calls by operation |');
  line('|---|---|---|---|---|---|');
  for (const s of scenarios) {
    const ops = [...s.byOperation]
      .filter(([, calls]) => calls >= 0.05)
      .sort((a, b) => b[1] - a[1])
      .map(([op, calls]) => `${op} ${n1(calls)}`)
      .join(', ');
    const d = s.dollarsPerMillion;
    line(
      `| ${s.name} | ${usd(d.dynamodb)} | ${usd(d.sqs)} | ${usd(d.eventBridge)} | ${usd(d.lambda)} | ${ops} |`,
    );
  }
  line();
  line("The poller's month (30 days), from the passes measured above: an idle pass's invocation took");
  line(
    `${Math.round(idlePass.invocationMs)} ms and ${n1(idlePass.readUnits)} read units; a pass with one request open ${Math.round(openPass.invocationMs)} ms and ${n1(openPass.readUnits)} read units, ${n1(openPass.writeUnits)} write units`,
  );
  line(
    '(the 60 s scenario\'s passes, its progress writes included). "Loop": the schedule\'s invocation passes every 5 s for',
  );
  line(
    '45 s while anything is open, sleeping between passes (POLL_LOOP_SECONDS). "Short passes": each pass its own',
  );
  line('invocation, the next one sent as a delayed message (send, receive, delete: 3 SQS requests a pass).');
  line();
  line('| poller | invocations | passes | Lambda | DynamoDB | SQS | total a month |');
  line('|---|---|---|---|---|---|---|');
  for (const [label, pass, design, open] of [
    ['idle (either design)', idlePass, 'loop', false],
    ['one request open all month, loop', openPass, 'loop', true],
    ['one request open all month, short passes', openPass, 'short-passes', true],
  ] as const) {
    const m = pollerMonth(pass, design, open);
    line(
      `| ${label} | ${Math.round(m.invocations).toLocaleString('en')} | ${Math.round(m.passes).toLocaleString('en')} | ${usd(m.lambda)} | ${usd(m.dynamodb)} | ${usd(m.sqs)} | ${usd(m.total)} |`,
    );
  }
  line();
  const sf = stepFunctionsFor60s();
  const long = scenarios.find((s) => s.name.includes('60 s'));
  line('Step Functions doing the same wait-and-poll for one request with a 60 s activity, every 5 s:');
  line(
    `- Standard: ${sf.transitions} state transitions (the detach task, ${sf.polls} × (Wait, Describe task, Choice), the publish task, Succeed) × $25 per million = ${usd(sf.transitions * 25)} per million, plus ${sf.lambdaTasks} Lambda tasks (128 MB, 100 ms each: ${usd(sf.taskDollars * 1e6)}) = **${usd(sf.standard * 1e6)} per million requests**.`,
  );
  line(
    `- Express: $1 per million requests, plus the run: 61 s × 64 MB (its minimum) = 3.81 GB-s × $0.00001667 = ${usd(61 * (64 / 1024) * PRICES.stepFunctionsExpressGbSecond * 1e6)} per million, plus the same tasks = **${usd(sf.express * 1e6)} per million requests**.`,
  );
  if (long)
    line(
      `- This service, the same request: **${usd(long.dollarsPerMillion.total)} per million** (table above), plus the poller's fixed month.`,
    );
  line(
    `- Neither workflow keeps a ledger, coalesces calls or publishes to a bus; both would need that on top. At ${FUNCTION_GB * 1024} MB the functions' GB-second is the x86 price, arm64's is 20 % less.`,
  );
  line();
  return out;
}
