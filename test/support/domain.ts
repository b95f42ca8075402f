import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { DynamoDBClient, GetItemCommand } from '@aws-sdk/client-dynamodb';
import { inject } from 'vitest';
import { createLedgerTable } from '../../local/services.ts';
import type { CompletionEvent } from '../../shared/contracts/index.ts';
import type { CallbackSender } from '../../shared/detach/callbacks.ts';
import { isTerminal } from '../../shared/detach/completion.ts';
import type { DispatchDeps } from '../../shared/detach/dispatch.ts';
import { type PollDeps, pollActivities } from '../../shared/detach/poll.ts';
import type { EventPublisher, GroupKey } from '../../shared/detach/ports.ts';
import { DynamoDbLedger } from '../../shared/ledger/dynamodb-ledger.ts';
import { EssClient } from '../../shared/providers/aliyun/ess-client.ts';
import { EssProvider } from '../../shared/providers/aliyun/ess-provider.ts';
import { createHttpAgent } from '../../shared/providers/http.ts';
import { TencentAsClient } from '../../shared/providers/tencent/as-client.ts';
import { TencentProvider } from '../../shared/providers/tencent/tencent-provider.ts';
import { TencentV2Client } from '../../shared/providers/tencent/v2-client.ts';
import { EMULATOR_KEY, EmulatorAdmin } from '../../support/emulator-admin.ts';
import { TENCENT_KEY } from '../../support/tencent.ts';

/** Every event published, in order: the invariant is one distinct event id per request. */
export class RecordingPublisher implements EventPublisher {
  readonly events: CompletionEvent[] = [];
  async publish(event: CompletionEvent): Promise<void> {
    this.events.push(structuredClone(event));
  }
  eventIdsOf(requestId: string): Set<string> {
    return new Set(this.events.filter((e) => e.requestId === requestId).map((e) => e.eventId));
  }
}

/** Callbacks as the receiver sees them (the real sender has its own tests against a real server). */
export class RecordingCallbacks implements CallbackSender {
  readonly received: { url: string; event: CompletionEvent }[] = [];
  async send(url: string, event: CompletionEvent): Promise<void> {
    this.received.push({ url, event: structuredClone(event) });
  }
}

export interface DomainOptions {
  /** Lease of a dispatcher (default 3 s of the test's clock); shorter in the race tests. */
  leaseMs?: number;
  settleMs?: number;
  maxCallAttempts?: number;
  timeoutMs?: number;
  responseTimeoutMs?: number;
  /** Items per page of the pending index (small, to have a few records span several pages). */
  pendingPageSize?: number;
  /** How long an activity of ours holds its group at most (the operation timeout; 600 s by default). */
  activityHoldMs?: number;
  /** A cloud emulator of the test's own (its faults then reach no other test); the stack's by default. */
  emulatorUrl?: string;
}

/**
 * The real domain over the real stores: a ledger table of its own in DynamoDB Local (so no other test's poller
 * sees it), the real ESS and Tencent clients against the cloud emulator, a clock the test can move ahead of real
 * time (leases, backoffs and timeouts run out without waiting), and a recording publisher (crashes: test/support/crashable-process.ts).
 */
export async function aDomain(options: DomainOptions = {}) {
  const stack = inject('stack');
  const tableName = `ledger-${randomBytes(5).toString('hex')}`;
  await createLedgerTable(stack.endpoints.dynamodb, tableName);
  const dynamodb = new DynamoDBClient({ ...stack.aws, endpoint: stack.endpoints.dynamodb });
  const ledger = new DynamoDbLedger(
    dynamodb,
    tableName,
    options.pendingPageSize ? { pendingPageSize: options.pendingPageSize } : {},
  );
  const httpAgent = createHttpAgent({
    connectTimeoutMs: 1000,
    responseTimeoutMs: options.responseTimeoutMs ?? 5000,
    connectionsPerOrigin: 8,
  });
  const emulator = options.emulatorUrl ?? stack.endpoints.emulator;
  const essClient = new EssClient({
    credentials: async () => EMULATOR_KEY,
    httpAgent,
    endpointOverride: emulator,
  });
  const tencent = { credentials: async () => TENCENT_KEY, httpAgent, endpointOverride: emulator };
  let offsetMs = 0;
  const clock = { now: () => new Date(Date.now() + offsetMs) };
  const publisher = new RecordingPublisher();
  const callbackSender = new RecordingCallbacks();
  const deps: DispatchDeps & PollDeps = {
    ledger,
    publisher,
    clock,
    providers: {
      aliyun: new EssProvider(essClient),
      tencent: new TencentProvider(new TencentAsClient(tencent), new TencentV2Client(tencent)),
    },
    callbacks: {
      ledger,
      clock,
      callbacks: callbackSender,
      callbackRetry: { baseSeconds: 1, maxSeconds: 5, maxAttempts: 3 },
    },
    maxCallAttempts: options.maxCallAttempts ?? 6,
    retry: { baseSeconds: 1, maxSeconds: 4 },
    activityHoldMs: options.activityHoldMs ?? 600_000,
    leaseMs: options.leaseMs ?? 3_000,
    settleMs: options.settleMs ?? 3_000,
    timeoutMs: options.timeoutMs ?? 600_000,
    concurrency: 4,
  };
  const admin = new EmulatorAdmin(emulator);

  /** Moves the test's clock ahead: leases, backoffs and settle times run out at once. */
  const advance = (ms: number) => {
    offsetMs += ms;
  };

  /**
   * Poller passes (with the clock moved past any backoff) until every request has ended; `through`: the ports of
   * a process of the test's (see crashable-process.ts), the domain's own by default.
   */
  async function settle(
    requestIds: readonly string[],
    maxPasses = 40,
    through: DispatchDeps & PollDeps = deps,
  ) {
    for (let pass = 0; pass < maxPasses; pass++) {
      const records = await ledger.getMany(requestIds);
      const done =
        records.length === requestIds.length &&
        records.every((r) => isTerminal(r.status) && r.eventPublishedAt && !r.callback?.nextAttemptAt);
      if (done) return records;
      advance(Math.max(deps.leaseMs, deps.settleMs) + 5_000);
      await pollActivities(through);
      await sleep(150);
    }
    return ledger.getMany(requestIds);
  }

  /** The group item as stored: lease, intent, running activity. */
  async function groupItem(groupKey: GroupKey) {
    const { Item } = await dynamodb.send(
      new GetItemCommand({ TableName: tableName, Key: { requestId: { S: `group|${groupKey}` } } }),
    );
    return {
      intent: Item?.intent,
      activityId: Item?.activityId?.S,
      leaseUntil: Item?.leaseUntil ? Number(Item.leaseUntil.N) : undefined,
      activityUntil: Item?.activityUntil ? Number(Item.activityUntil.N) : undefined,
    };
  }

  return {
    deps,
    ledger,
    clock,
    advance,
    publisher,
    callbackSender,
    admin,
    settle,
    groupItem,
    tableName,
  };
}

export type Domain = Awaited<ReturnType<typeof aDomain>>;
