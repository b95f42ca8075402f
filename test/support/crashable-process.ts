import { ProvisionedThroughputExceededException } from '@aws-sdk/client-dynamodb';
import type { CallbackSender } from '../../shared/detach/callbacks.ts';
import type { DispatchDeps } from '../../shared/detach/dispatch.ts';
import type { RequestQueue } from '../../shared/detach/intake.ts';
import type { PollDeps } from '../../shared/detach/poll.ts';
import type {
  EventPublisher,
  Ledger,
  PendingListing,
  ProviderRegistry,
  ScalingProvider,
  SubmitAttempt,
} from '../../shared/detach/ports.ts';
import type { CrashPoint } from './crash-points.ts';

/**
 * A process of the service (one Lambda invocation, one poller), as the outside world sees it: every effect it
 * has goes through a port (the ledger, the cloud, the event bus, callbacks, the queue). Cutting every port at
 * one instant is what a killed process looks like: from `crash()` on, every pending and every future port call
 * of the process never resolves, whichever async chain of it made the call, so no sibling chain writes on.
 *
 * Every crash point of the domain sits right after a port call, so "crash after port call X" is a `crashAfter`
 * rule here (the effect of X is applied, its answer never seen), with no hook in the domain.
 */
export type PortName = 'ledger' | 'cloud' | 'publisher' | 'callbacks' | 'queue';

/** An injected fault of our own dependencies, at the port: what the AWS SDK would throw. */
export type PortFault = 'throttled' | 'timed-out' | 'applied-answer-lost';

export interface CrashAfter {
  port: PortName;
  method: string;
  /** Only calls whose outcome this accepts (e.g. `acquireGroup` that took the lease). */
  when?: (outcome: { value?: unknown; error?: unknown }) => boolean;
  /** Matching calls to let through first. */
  skip?: number;
}

/** Each named crash point as the port call it follows: the process dies once that call took effect. */
export const CRASH_AFTER: Record<CrashPoint, CrashAfter> = {
  'intake.after-ledger': { port: 'ledger', method: 'begin' },
  'submit.after-begin': { port: 'ledger', method: 'begin' },
  'dispatch.after-lease': {
    port: 'ledger',
    method: 'acquireGroup',
    when: ({ value }) => value !== undefined,
  },
  'dispatch.after-intent': {
    port: 'ledger',
    method: 'writeIntent',
    when: ({ value }) => value === 'written',
  },
  'dispatch.after-call': { port: 'cloud', method: 'submit' },
  'dispatch.after-outcome': { port: 'ledger', method: 'resolveIntent', when: ({ value }) => value === true },
  'poll.after-group-freed': { port: 'ledger', method: 'finishGroupActivity' },
  'complete.after-transition': { port: 'ledger', method: 'complete', when: ({ value }) => value === true },
  'complete.after-publish': { port: 'publisher', method: 'publish' },
  'callback.after-send': { port: 'callbacks', method: 'send' },
};

export interface ProcessOptions {
  /**
   * Called before each port call acts, with a label naming it: the call acts when the returned promise resolves
   * (fast-check's scheduler decides when). Absent: calls act at once.
   */
  gate?: (label: string) => Promise<unknown>;
  /** A fault for this call, decided when it is let through (before it acts). */
  faultFor?: (port: PortName, method: string, label: string) => PortFault | undefined;
  crashAfter?: CrashAfter;
  /** Counts the real calls in flight (the model's driver waits for them between two scheduled steps). */
  inFlight?: InFlight;
  /** Our clock's time as the cloud's clock reads it (the model's clock runs ahead of the emulator's). */
  cloudTime?: (ours: Date) => Date;
  /** Shortens ids in labels (the model names its requests A, B, C). */
  alias?: (text: string) => string;
  /** Told of every call that took effect and was answered, with what it answered (before the process sees it). */
  observe?: (port: PortName, method: string, args: readonly unknown[], value: unknown) => void;
}

const never = <T>(): Promise<T> => new Promise<T>(() => {});

/** Real port calls in flight, and a way to wait until there are none (and their continuations have run). */
export class InFlight {
  #count = 0;
  #drained: (() => void)[] = [];

  begin(): () => void {
    this.#count++;
    let done = false;
    return () => {
      if (done) return;
      done = true;
      this.#count--;
      if (this.#count === 0) for (const resolve of this.#drained.splice(0)) resolve();
    };
  }

  /**
   * A call in flight that waits on a call of its own (a provider asking the ledger through a callback) is not in
   * flight while that inner call waits for its turn: otherwise the driver, waiting for no call in flight before it
   * lets the next one through, and the inner call, waiting to be let through, wait for each other for ever.
   */
  async whileWaiting<T>(inner: () => Promise<T>): Promise<T> {
    this.#count--;
    if (this.#count === 0) for (const resolve of this.#drained.splice(0)) resolve();
    try {
      return await inner();
    } finally {
      this.#count++;
    }
  }

  /** Resolves once no call is in flight and everything waiting on the last one has run up to its next call. */
  async idle(): Promise<void> {
    for (;;) {
      await new Promise((resolve) => setImmediate(resolve));
      if (this.#count > 0) {
        await new Promise<void>((resolve) => this.#drained.push(resolve));
        continue;
      }
      await new Promise((resolve) => setImmediate(resolve));
      if (this.#count === 0) return;
    }
  }
}

/** What the AWS SDK throws on a throttled DynamoDB call once its own retries are spent. */
export const throttledError = () =>
  new ProvisionedThroughputExceededException({
    message: 'The level of configured provisioned throughput for the table was exceeded (injected).',
    $metadata: { httpStatusCode: 400, attempts: 3 },
  });

/**
 * What the SDK throws when no answer came in time (its NodeHttpHandler's TimeoutError): the call may or may
 * not have been applied. `applied-answer-lost` throws it after the call really was applied.
 */
export const timedOutError = () =>
  Object.assign(new Error('Connection timed out after 3000 ms (injected)'), {
    name: 'TimeoutError',
    $metadata: { attempts: 3 },
  });

const LEDGER_METHODS = [
  'begin',
  'get',
  'getMany',
  'listWaiting',
  'acquireGroup',
  'writeIntent',
  'beginCall',
  'resolveIntent',
  'endWaiting',
  'backOff',
  'releaseGroup',
  'finishGroupActivity',
  'activityClaimedElsewhere',
  'takenOut',
  'recordProgress',
  'complete',
  'completeNew',
  'markPublished',
  'recordCallback',
  'deferPoll',
  'loadPollCursor',
  'savePollCursor',
] as const satisfies readonly Exclude<keyof Ledger, 'listPending'>[];

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** A short, readable account of a call's arguments for the schedule's labels. */
function describeArgs(args: readonly unknown[]): string {
  const parts = args.map((arg) => {
    if (typeof arg === 'number') return '';
    if (typeof arg === 'string') return UUID.test(arg) ? '' : arg;
    if (arg instanceof Date) return '';
    if (Array.isArray(arg))
      return `[${arg.map((a) => (typeof a === 'string' ? a : ((a as { requestId?: string })?.requestId ?? '…'))).join(',')}]`;
    if (arg && typeof arg === 'object') {
      const o = arg as Record<string, unknown>;
      if (typeof o.status === 'string' && typeof o.requestId === 'string')
        return `${o.requestId}→${o.status}`;
      if (o.kind === 'accepted' || o.kind === 'refused' || o.kind === 'ambiguous') return String(o.kind);
      if (typeof o.requestId === 'string') return o.requestId;
      if (o.request && typeof o.action === 'string') return `${o.action}`;
      if (typeof o.id === 'string' && Array.isArray(o.requestIds)) return `intent[${o.requestIds.join(',')}]`;
      if (typeof o.clientToken === 'string') return o.ambiguousSince ? 'repeat' : 'first';
      return '';
    }
    return arg === undefined ? '' : String(arg);
  });
  return parts.filter((p) => p !== '').join(' ');
}

export class CrashableProcess {
  readonly died: Promise<void>;
  #markDied!: () => void;
  #dead = false;
  #skipped = 0;

  constructor(
    readonly name: string,
    private readonly options: ProcessOptions = {},
  ) {
    this.died = new Promise((resolve) => {
      this.#markDied = resolve;
    });
  }

  get dead(): boolean {
    return this.#dead;
  }

  /** The process dies now: nothing it started or starts from here on comes back. */
  crash(): void {
    if (this.#dead) return;
    this.#dead = true;
    this.#markDied();
  }

  /** One port call of this process: let through by the gate, faulted if told so, cut if the process died. */
  async call<T>(port: PortName, method: string, args: readonly unknown[], run: () => Promise<T>): Promise<T> {
    if (this.#dead) return never();
    const alias = this.options.alias ?? ((text: string) => text);
    const label = alias(`${this.name}: ${port}.${method}(${describeArgs(args)})`);
    if (this.options.gate) await this.options.gate(label);
    if (this.#dead) return never();
    const fault = this.options.faultFor?.(port, method, label);
    const done = this.options.inFlight?.begin();
    let outcome: { value?: T; error?: unknown; failed: boolean };
    try {
      if (fault === 'throttled') throw throttledError();
      if (fault === 'timed-out') throw timedOutError();
      const value = await run();
      if (fault === 'applied-answer-lost') throw timedOutError();
      outcome = { value, failed: false };
    } catch (error) {
      outcome = { error, failed: true };
    } finally {
      done?.();
    }
    if (this.#dead) return never();
    const rule = this.options.crashAfter;
    if (rule && rule.port === port && rule.method === method && (rule.when?.(outcome) ?? true)) {
      if (this.#skipped++ >= (rule.skip ?? 0)) {
        this.crash();
        return never();
      }
    }
    if (outcome.failed) throw outcome.error;
    this.options.observe?.(port, method, args, outcome.value);
    return outcome.value as T;
  }

  /** The ledger as this process sees it. */
  ledger(ledger: Ledger): Ledger {
    const wrapped: Partial<Ledger> = {};
    for (const method of LEDGER_METHODS) {
      const original = (ledger[method] as (...args: unknown[]) => Promise<unknown>).bind(ledger);
      (wrapped as Record<string, unknown>)[method] = (...args: unknown[]) =>
        this.call('ledger', method, args, () => original(...args));
    }
    wrapped.listPending = (from) => this.#listing(ledger.listPending(from));
    return wrapped as Ledger;
  }

  /** Each page of the pending index is one call (the adapter reads a page at a time). */
  #listing(inner: PendingListing): PendingListing {
    let iterator: AsyncIterator<unknown> | undefined;
    return {
      resumeFrom: () => inner.resumeFrom(),
      [Symbol.asyncIterator]: () => {
        iterator ??= inner[Symbol.asyncIterator]();
        const it = iterator;
        return {
          next: () => this.call('ledger', 'listPending.next', [], () => it.next()),
          return: async () => {
            if (this.#dead) return never();
            await it.return?.();
            return { done: true, value: undefined };
          },
        } as AsyncIterator<never>;
      },
    } as PendingListing;
  }

  provider(provider: ScalingProvider): ScalingProvider {
    const cloudTime = this.options.cloudTime ?? ((date: Date) => date);
    return {
      activityBatchLimit: provider.activityBatchLimit,
      idempotentByToken: (action) => provider.idempotentByToken(action),
      submit: (operation, attempt: SubmitAttempt) =>
        this.call('cloud', 'submit', [operation, attempt], () =>
          provider.submit(operation, {
            ...attempt,
            ...(attempt.ambiguousSince && { ambiguousSince: cloudTime(attempt.ambiguousSince) }),
          }),
        ),
      describeActivities: (region, ids) =>
        this.call('cloud', 'describeActivities', [ids], () => provider.describeActivities(region, ids)),
      reconcile: (region, operations) =>
        this.call('cloud', 'reconcile', [operations.map((o) => o.request.requestId)], () =>
          provider.reconcile(region, operations),
        ),
      remainingInstances: (operation, ids) =>
        this.call('cloud', 'remainingInstances', [ids], () => provider.remainingInstances(operation, ids)),
      ...(provider.findStartedActivity && {
        findStartedActivity: (operation, since, claimedElsewhere) =>
          this.call('cloud', 'findStartedActivity', [operation.request.requestId], () =>
            (provider.findStartedActivity as NonNullable<ScalingProvider['findStartedActivity']>)(
              operation,
              cloudTime(since),
              (id) =>
                this.options.inFlight
                  ? this.options.inFlight.whileWaiting(() => claimedElsewhere(id))
                  : claimedElsewhere(id),
            ),
          ),
      }),
      inspect: (operation) =>
        this.call('cloud', 'inspect', [operation.request.requestId], () => provider.inspect(operation)),
    };
  }

  publisher(publisher: EventPublisher): EventPublisher {
    return {
      publish: (event) => this.call('publisher', 'publish', [event], () => publisher.publish(event)),
    };
  }

  callbackSender(sender: CallbackSender): CallbackSender {
    return {
      send: (url, event) => this.call('callbacks', 'send', [event], () => sender.send(url, event)),
    };
  }

  queue(queue: RequestQueue): RequestQueue {
    return {
      enqueue: (action, request) =>
        this.call('queue', 'enqueue', [request.requestId], () => queue.enqueue(action, request)),
    };
  }

  /**
   * The dependencies of the domain with every port of this process: what the process does goes through here,
   * so `crash()` stops all of it at once.
   */
  ports<D extends DispatchDeps & Partial<PollDeps> & { queue?: RequestQueue }>(deps: D): D {
    const rest = deps;
    const ledger = this.ledger(deps.ledger);
    const providers = Object.fromEntries(
      Object.entries(deps.providers).map(([name, provider]) => [name, this.provider(provider)]),
    ) as unknown as ProviderRegistry;
    const callbacks = deps.callbacks ?? {};
    return {
      ...rest,
      ledger,
      publisher: this.publisher(deps.publisher),
      providers,
      ...(deps.callbacks && {
        callbacks: {
          ...callbacks,
          ledger,
          callbacks: this.callbackSender(deps.callbacks.callbacks),
        },
      }),
      ...(deps.queue && { queue: this.queue(deps.queue) }),
    } as D;
  }
}

/** Runs `work` until it ends or its process dies; true when it died. */
export async function runUntilCrash(died: Promise<void>, work: () => Promise<unknown>): Promise<boolean> {
  return Promise.race([work().then(() => false), died.then(() => true)]);
}
