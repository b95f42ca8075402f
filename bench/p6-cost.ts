import { setTimeout as sleep } from 'node:timers/promises';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { EmulatorSeed } from '../emulator/seed.ts';
import { AwsCallMeter, type MeterCounts, type ServiceCount } from '../local/aws-call-meter.ts';
import { type RunningStack, startStack } from '../local/stack.ts';
import { groupKeyOf } from '../shared/detach/dispatch.ts';
import type { StoredRecord } from '../shared/detach/ports.ts';
import { DynamoDbLedger } from '../shared/ledger/dynamodb-ledger.ts';
import { SIGNATURE_HEADER, signatureHeader } from '../shared/signing/webhook-signature.ts';
import { FUNCTION_GB, MONTH_SECONDS, PRICES } from './prices.ts';

const REGION = 'cn-hangzhou';
/** The deployed interval between passes (POLL_INTERVAL_SECONDS); the local scheduler runs a pass this often. */
export const PASS_INTERVAL_MS = 5_000;
/** The deployed loop of one scheduled invocation while anything is open (POLL_LOOP_SECONDS). */
const LOOP_SECONDS = 45;

/** What one scenario cost, per request, the poller's base cost of its passes taken out. */
export interface ScenarioCost {
  name: string;
  requests: number;
  /** Poller passes the scenario spanned (all of them; their idle base is taken out of the counts). */
  passes: number;
  /** Per request. */
  dynamodbCalls: number;
  writeUnits: number;
  indexWriteUnits: number;
  readUnits: number;
  sqsRequests: number;
  events: number;
  lambdaInvocations: number;
  lambdaSeconds: number;
  /** DynamoDB calls per operation, per request. */
  byOperation: Map<string, number>;
  dollarsPerMillion: { dynamodb: number; sqs: number; eventBridge: number; lambda: number; total: number };
}

export interface PassCost {
  /** Per pass. */
  dynamodbCalls: number;
  readUnits: number;
  writeUnits: number;
  /** Mean wall time of one poller invocation doing one pass, as the caller saw it (ms). */
  invocationMs: number;
  passes: number;
  /** Everything counted over those passes. */
  byOperation: MeterCounts;
}

export interface CostResults {
  idlePass: PassCost;
  openPass: PassCost;
  scenarios: ScenarioCost[];
}

const ZERO: ServiceCount = {
  calls: 0,
  failed: 0,
  writeUnits: 0,
  readUnits: 0,
  indexWriteUnits: 0,
  entries: 0,
  durationMs: 0,
};

const sum = (counts: MeterCounts, service: string, pick: (c: ServiceCount) => number) =>
  [...counts].filter(([key]) => key.startsWith(`${service}:`)).reduce((s, [, c]) => s + pick(c), 0);

/**
 * P6: what a request costs, counted on the local stack with every call of the functions to DynamoDB Local,
 * fauxqs and the EventBridge emulator going through a metering proxy (local/aws-call-meter.ts), and every
 * invocation of a function by the queue bridge, the scheduler and the HTTP API too.
 */
export async function measureCosts(): Promise<CostResults> {
  const meter = new AwsCallMeter();
  const stack = await startStack({
    ports: 'ephemeral',
    pollIntervalMs: PASS_INTERVAL_MS,
    meter,
    shortPasses: true,
  });
  try {
    const run = new Runner(stack, meter);
    // Each function's first invocation builds and loads it in serverless-offline (seconds): not a request's cost.
    await run.instancesWindow(1_000, 1);
    await run.vServerGroupsWindow();
    await run.webhookWindow();
    // The poller's base: passes with nothing open (the reads every pass makes).
    const idle = await run.window(async () => sleep(6 * PASS_INTERVAL_MS + 500));
    const idlePass = run.passCost(idle);
    const scenarios: ScenarioCost[] = [];
    scenarios.push(await run.instances('ESS DetachInstances, 1 instance, 3 s activity', 3_000, 1));
    const long = await run.instancesWindow(60_000, 1);
    scenarios.push(run.scenario('the same with a 60 s activity', long, 1, idlePass));
    const openPass = run.passCost(long);
    scenarios.push(
      await run.instances('100 one-instance requests, one group (coalesced), 3 s activities', 3_000, 100),
    );
    scenarios.push(await run.vServerGroups());
    scenarios.push(await run.webhook());
    return { idlePass, openPass, scenarios };
  } finally {
    await stack.stop();
  }
}

class Runner {
  readonly #ledger: DynamoDbLedger;
  readonly #sqs: SQSClient;
  #idle: PassCost | undefined;
  #n = 0;

  constructor(
    private readonly stack: RunningStack,
    private readonly meter: AwsCallMeter,
  ) {
    // Reads of the bench itself go straight to DynamoDB Local: they are not the service's.
    const dynamodb = new DynamoDBClient({ ...stack.aws, endpoint: stack.endpoints.dynamodb });
    this.#ledger = new DynamoDbLedger(dynamodb, stack.resources.ledgerTable);
    // A producer's SendMessage is paid for: through the meter.
    this.#sqs = new SQSClient({ ...stack.aws, endpoint: stack.metered?.sqs as string });
  }

  get pollerKey() {
    return `lambda:${this.stack.resources.pollFunctionName}`;
  }

  async window(work: () => Promise<unknown>): Promise<MeterCounts> {
    const before = this.meter.snapshot();
    await work();
    return AwsCallMeter.since(before, this.meter.snapshot());
  }

  passCost(counts: MeterCounts): PassCost {
    const poller = counts.get(this.pollerKey) ?? ZERO;
    const passes = Math.max(1, poller.calls);
    const cost: PassCost = {
      dynamodbCalls: sum(counts, 'dynamodb', (c) => c.calls) / passes,
      readUnits: sum(counts, 'dynamodb', (c) => c.readUnits) / passes,
      writeUnits: sum(counts, 'dynamodb', (c) => c.writeUnits) / passes,
      invocationMs: poller.durationMs / passes,
      byOperation: counts,
      passes,
    };
    this.#idle ??= cost;
    return cost;
  }

  /** Waits until every request has published its event and record-delivery has marked it, then a pass more. */
  async settle(ids: string[], timeoutMs = 180_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    const done = (r: StoredRecord | undefined) =>
      r !== undefined && r.eventPublishedAt !== undefined && (r.deliveredEvents ?? 0) >= 1;
    for (;;) {
      const records = await Promise.all(ids.map((id) => this.#ledger.get(id)));
      if (records.every(done)) break;
      if (Date.now() > deadline)
        throw new Error(`P6: not done in time: ${ids.filter((_, i) => !done(records[i])).join(', ')}`);
      await sleep(250);
    }
    await sleep(1_000);
  }

  group(activityDurationMs: number, instances: number, extra: Record<string, unknown> = {}) {
    const n = ++this.#n;
    const groupId = `asg-p6-${n}`;
    const instanceIds = Array.from({ length: instances }, (_, i) => `i-p6-${n}-${i}`);
    this.stack.emulator.ess.add(
      EmulatorSeed.parse({
        aliyun: {
          scalingGroups: [
            {
              scalingGroupId: groupId,
              regionId: REGION,
              minSize: 0,
              maxSize: 1000,
              activityDurationMs,
              ...extra,
            },
          ],
          instances: instanceIds.map((instanceId) => ({ instanceId, scalingGroupId: groupId })),
        },
      }),
    );
    return { n, groupId, instanceIds };
  }

  async send(action: string, body: { requestId: string; scalingGroupId: string }) {
    await this.#sqs.send(
      new SendMessageCommand({
        QueueUrl: this.stack.queues[action]?.queueUrl as string,
        MessageBody: JSON.stringify(body),
        MessageGroupId: groupKeyOf({
          provider: 'aliyun',
          region: REGION,
          scalingGroupId: body.scalingGroupId,
        }),
        MessageDeduplicationId: body.requestId,
      }),
    );
  }

  async instancesWindow(activityDurationMs: number, count: number) {
    const { n, groupId, instanceIds } = this.group(activityDurationMs, count);
    const ids = instanceIds.map((_, i) => `p6-${n}-${i}`);
    return this.window(async () => {
      for (const [i, requestId] of ids.entries())
        await this.send('detach-instances', {
          requestId,
          provider: 'aliyun',
          region: REGION,
          scalingGroupId: groupId,
          instanceIds: [instanceIds[i] as string],
        } as never);
      await this.settle(ids);
    });
  }

  async instances(name: string, activityDurationMs: number, count: number) {
    const counts = await this.instancesWindow(activityDurationMs, count);
    return this.scenario(name, counts, count, this.#idle as PassCost);
  }

  async vServerGroups() {
    return this.scenario(
      'ESS DetachVServerGroups',
      await this.vServerGroupsWindow(),
      1,
      this.#idle as PassCost,
    );
  }

  async vServerGroupsWindow() {
    const n = ++this.#n;
    const { groupId } = this.group(3_000, 1, {
      vServerGroups: [{ loadBalancerId: `lb-p6-${n}`, vServerGroupId: `rsp-p6-${n}`, port: 80 }],
    });
    const requestId = `p6-vsg-${n}`;
    return this.window(async () => {
      await this.send('detach-vserver-groups', {
        requestId,
        provider: 'aliyun',
        region: REGION,
        scalingGroupId: groupId,
        vServerGroups: [
          {
            loadBalancerId: `lb-p6-${n}`,
            vServerGroupAttributes: [{ vServerGroupId: `rsp-p6-${n}`, port: 80 }],
          },
        ],
        forceDetach: false,
      } as never);
      await this.settle([requestId]);
    });
  }

  async webhook() {
    return this.scenario(
      'through the webhook, four status reads',
      await this.webhookWindow(),
      1,
      this.#idle as PassCost,
    );
  }

  async webhookWindow() {
    const { n, groupId, instanceIds } = this.group(3_000, 1);
    const requestId = `p6-webhook-${n}`;
    const url = this.stack.endpoints.http;
    const secret = this.stack.webhookSecret;
    return this.window(async () => {
      const body = JSON.stringify({
        requestId,
        provider: 'aliyun',
        region: REGION,
        scalingGroupId: groupId,
        instanceIds,
      });
      const posted = await fetch(`${url}/v1/detach-instances`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', [SIGNATURE_HEADER]: signatureHeader(secret, body) },
        body,
      });
      if (posted.status !== 202) throw new Error(`P6: webhook answered ${posted.status}`);
      const path = `/v1/operations/${requestId}`;
      const read = async () => {
        const answer = await fetch(`${url}${path}`, {
          headers: { [SIGNATURE_HEADER]: signatureHeader(secret, `GET ${path}`) },
        });
        await answer.text();
      };
      // Four status reads: while it runs, and one after the event.
      for (let i = 0; i < 3; i++) {
        await sleep(1_000);
        await read();
      }
      await this.settle([requestId]);
      await read();
    });
  }

  scenario(name: string, counts: MeterCounts, requests: number, idle: PassCost): ScenarioCost {
    const poller = counts.get(this.pollerKey) ?? ZERO;
    const passes = poller.calls;
    const idleCounts = idle.byOperation;
    const idlePasses = idle.passes;
    const byOperation = new Map<string, number>();
    let calls = 0;
    let writeUnits = 0;
    let readUnits = 0;
    let indexWriteUnits = 0;
    for (const [key, count] of counts) {
      if (!key.startsWith('dynamodb:')) continue;
      const base = idleCounts.get(key) ?? ZERO;
      const scale = passes / idlePasses;
      const own = Math.max(0, count.calls - base.calls * scale);
      byOperation.set(key.slice('dynamodb:'.length), own / requests);
      calls += own;
      writeUnits += Math.max(0, count.writeUnits - base.writeUnits * scale);
      readUnits += Math.max(0, count.readUnits - base.readUnits * scale);
      indexWriteUnits += Math.max(0, count.indexWriteUnits - base.indexWriteUnits * scale);
    }
    // The poller's next-pass messages are the poller's base (in the monthly figures), not a request's.
    const sqsRequests = [...counts]
      .filter(([key]) => key.startsWith('sqs:') && !key.includes('poll-next'))
      .reduce((s, [, c]) => s + c.calls, 0);
    // The event source's receive and delete per batch delivered to a request function (the bridge's own calls
    // are not metered): one each per invocation of a request function.
    const requestFunctions = [...counts].filter(
      ([key]) => key.startsWith('lambda:') && key !== this.pollerKey && !key.endsWith('-webhook'),
    );
    const deliveredBatches = requestFunctions.reduce((s, [, c]) => s + c.calls, 0);
    const events = sum(counts, 'eventbridge', (c) => c.entries);
    // Invocations of the request functions and the webhook as metered, and record-delivery's (one per event,
    // invoked inside serverless-offline, so not seen by the meter: priced at the mean of the others). The
    // poller's passes are the service's base, shared by every open request: in the monthly figures, not here.
    const own = [...counts].filter(([key]) => key.startsWith('lambda:') && key !== this.pollerKey);
    const ownCalls = own.reduce((s, [, c]) => s + c.calls, 0);
    const ownMs = own.reduce((s, [, c]) => s + c.durationMs, 0);
    const lambdaInvocations = ownCalls + events;
    const lambdaSeconds = (ownMs + (ownCalls > 0 ? (ownMs / ownCalls) * events : 0)) / 1000;
    const per = (x: number) => x / requests;
    const dynamodbDollars =
      per(writeUnits) * PRICES.dynamodbWriteUnit + per(readUnits) * PRICES.dynamodbReadUnit;
    const sqsDollars = per(sqsRequests + 2 * deliveredBatches) * PRICES.sqsFifoRequest;
    const ebDollars = per(events) * PRICES.eventBridgeEvent;
    const lambdaDollars =
      per(lambdaInvocations) * PRICES.lambdaRequest +
      per(lambdaSeconds) * FUNCTION_GB * PRICES.lambdaGbSecond;
    const million = (x: number) => x * 1e6;
    return {
      name,
      requests,
      passes,
      dynamodbCalls: per(calls),
      writeUnits: per(writeUnits),
      indexWriteUnits: per(indexWriteUnits),
      readUnits: per(readUnits),
      sqsRequests: per(sqsRequests + 2 * deliveredBatches),
      events: per(events),
      lambdaInvocations: per(lambdaInvocations),
      lambdaSeconds: per(lambdaSeconds),
      byOperation,
      dollarsPerMillion: {
        dynamodb: million(dynamodbDollars),
        sqs: million(sqsDollars),
        eventBridge: million(ebDollars),
        lambda: million(lambdaDollars),
        total: million(dynamodbDollars + sqsDollars + ebDollars + lambdaDollars),
      },
    };
  }
}

/** The poller's month: its Lambda time and its passes' reads, idle and with one request open all month. */
export function pollerMonth(pass: PassCost, design: 'loop' | 'short-passes', open: boolean) {
  const minutes = MONTH_SECONDS / 60;
  const passesPerMinute = open ? (design === 'loop' ? LOOP_SECONDS / 5 + 1 : 60_000 / PASS_INTERVAL_MS) : 1;
  const invocationsPerMinute = open && design === 'short-passes' ? passesPerMinute : 1;
  const secondsPerInvocation =
    open && design === 'loop' ? LOOP_SECONDS + pass.invocationMs / 1000 : pass.invocationMs / 1000;
  const invocations = minutes * invocationsPerMinute;
  const lambda =
    invocations * PRICES.lambdaRequest +
    invocations * secondsPerInvocation * FUNCTION_GB * PRICES.lambdaGbSecond;
  const passes = minutes * passesPerMinute;
  const dynamodb =
    passes * (pass.readUnits * PRICES.dynamodbReadUnit + pass.writeUnits * PRICES.dynamodbWriteUnit);
  // Short passes: each pass that leaves work open sends the next pass's message (send, receive, delete).
  const sqs = open && design === 'short-passes' ? passes * 3 * PRICES.sqsFifoRequest : 0;
  return { invocations, passes, lambda, dynamodb, sqs, total: lambda + dynamodb + sqs };
}

/** Step Functions doing the same wait-and-poll for one request with a 60 s activity, priced from PRICES. */
export function stepFunctionsFor60s() {
  const polls = 60 / (PASS_INTERVAL_MS / 1000);
  // Detach task, then per poll: Wait, Describe task, Choice; then Publish task and Succeed.
  const transitions = 1 + polls * 3 + 2;
  const lambdaTasks = 1 + polls + 1;
  // Each task a Lambda of 128 MB and about 100 ms.
  const taskDollars = lambdaTasks * (PRICES.lambdaRequest + 0.1 * 0.125 * PRICES.lambdaGbSecond);
  const standard = transitions * PRICES.stepFunctionsStandardTransition + taskDollars;
  // Express: billed per request and for the workflow's run at 64 MB at least (about 61 s).
  const express =
    PRICES.stepFunctionsExpressRequest + 61 * (64 / 1024) * PRICES.stepFunctionsExpressGbSecond + taskDollars;
  return { polls, transitions, lambdaTasks, taskDollars, standard, express };
}
