/**
 * The in-process bus: NATS semantics (wildcards, queue groups, request/reply) for one
 * binary that runs the engine and a local agent without a NATS server.
 *
 * Delivery is asynchronous and batched: publish() appends to one FIFO queue and a
 * single microtask drains it, so a burst of publishes costs one scheduled microtask,
 * and every subscriber sees one publisher's messages in publish order.
 */
import { type Clock, systemClock, type TimerHandle } from "../clock";
import { BusClosedError, BusTimeoutError, InvalidInputError, NoRespondersError } from "../errors";
import { outsideLogContext } from "../log";
import type {
  Bus,
  BusMessage,
  MessageHandler,
  RequestOptions,
  SubscribeOptions,
  Subscription,
} from "./bus";
import { requestTimeoutMs } from "./request-timeout";
import { isValidQueueName, SubjectIndex } from "./subject";

/** @default 5000, as in the `Bus` contract. */

export interface EmbeddedBusOptions {
  /**
   * Told about each error a handler throws (or an async handler rejects with), with
   * the subject being delivered. Delivery to the other subscribers goes on either way,
   * and `errors` counts it whether or not this is set.
   * @default undefined
   */
  readonly onError?: (error: unknown, subject: string) => void;
  /** Runs request timeouts; a test passes a `SimulatedClock`. @default systemClock */
  readonly clock?: Clock;
}

interface QueueCursor {
  /** Round-robin position; shared by every plan that holds this queue group. */
  next: number;
  subscribers: number;
}

interface QueueGroup {
  readonly members: readonly Entry[];
  readonly cursor: QueueCursor;
}

/** Who gets a message on one subject: every plain subscriber, one member per group. */
interface DeliveryPlan {
  readonly plain: readonly Entry[];
  readonly groups: readonly QueueGroup[];
}

class Entry implements Subscription {
  active = true;
  constructor(
    readonly pattern: string,
    readonly queue: string | undefined,
    readonly handler: MessageHandler,
    private readonly release: (entry: Entry) => void,
  ) {}

  unsubscribe(): void {
    if (!this.active) return;
    this.active = false;
    this.release(this);
  }
}

type FlushWaiter = () => void;

export class EmbeddedBus implements Bus {
  readonly kind = "embedded" as const;
  private readonly index = new SubjectIndex<Entry>();
  /**
   * Plans keyed by the index's result array, which stays the same instance for a
   * subject until a subscription changes, so a repeated publish builds nothing.
   */
  private readonly plans = new WeakMap<readonly Entry[], DeliveryPlan>();
  private readonly cursors = new Map<string, QueueCursor>();
  // Two parallel arrays rather than a record per delivery: no allocation per message
  // and subscriber beyond the array growing. A null target marks a flush() waiter.
  private readonly targets: (Entry | null)[] = [];
  private readonly items: (BusMessage | FlushWaiter)[] = [];
  private scheduled = false;
  private closed = false;
  private errorCount = 0;
  /** Pending requests, by the function that rejects them. */
  private readonly requests = new Set<(error: Error) => void>();
  private readonly onError: ((error: unknown, subject: string) => void) | undefined;
  private readonly clock: Clock;

  constructor(options: EmbeddedBusOptions = {}) {
    this.onError = options.onError;
    this.clock = options.clock ?? systemClock;
  }

  /** How many handler errors the bus has caught. */
  get errors(): number {
    return this.errorCount;
  }

  publish(subject: string, data: unknown): void {
    if (this.closed) throw new BusClosedError();
    const matched = this.index.match(subject);
    if (matched.length > 0) this.dispatch(matched, { subject, data });
  }

  subscribe<T = unknown>(
    pattern: string,
    handler: MessageHandler<T>,
    options: SubscribeOptions = {},
  ): Subscription {
    if (this.closed) throw new BusClosedError();
    const queue = options.queue;
    if (queue !== undefined && !isValidQueueName(queue)) {
      throw new InvalidInputError(`invalid queue group name "${queue}"`, "queue");
    }
    // The bus cannot check payloads against T; like NATS, the subject is the contract.
    const entry = new Entry(pattern, queue, handler as MessageHandler, this.release);
    this.index.add(pattern, entry);
    if (queue !== undefined) {
      let cursor = this.cursors.get(queue);
      if (cursor === undefined) {
        cursor = { next: 0, subscribers: 0 };
        this.cursors.set(queue, cursor);
      }
      cursor.subscribers++;
    }
    return entry;
  }

  async request<T = unknown>(
    subject: string,
    data: unknown,
    options: RequestOptions = {},
  ): Promise<T> {
    if (this.closed) throw new BusClosedError();
    const timeoutMs = requestTimeoutMs(options);
    const matched = this.index.match(subject);
    if (matched.length === 0) throw new NoRespondersError(subject);
    return new Promise<T>((resolve, reject) => {
      let timer: TimerHandle | undefined;
      // Leaving the set is the single point of settlement: whichever of answer,
      // timeout or close gets there first wins, the others find nothing to do.
      const settle = (): boolean => {
        if (!this.requests.delete(fail)) return false;
        if (timer !== undefined) this.clock.clearTimeout(timer);
        return true;
      };
      const fail = (error: Error): void => {
        if (settle()) reject(error);
      };
      this.requests.add(fail);
      timer = this.clock.setTimeout(() => fail(new BusTimeoutError(subject, timeoutMs)), timeoutMs);
      const respond = (answer: unknown): void => {
        // Whatever the responder sent is what the caller asked for; see subscribe().
        if (settle()) resolve(answer as T);
      };
      this.dispatch(matched, { subject, data, respond });
    });
  }

  flush(): Promise<void> {
    if (this.closed) return Promise.reject(new BusClosedError());
    if (this.targets.length === 0) return Promise.resolve();
    return new Promise<void>((resolve) => {
      this.targets.push(null);
      this.items.push(resolve);
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    // What was queued will never be delivered, so there is nothing left to wait for.
    for (const item of this.items) if (typeof item === "function") item();
    this.targets.length = 0;
    this.items.length = 0;
    for (const fail of this.requests) fail(new BusClosedError());
  }

  private readonly release = (entry: Entry): void => {
    if (this.closed) return;
    this.index.remove(entry.pattern, entry);
    if (entry.queue === undefined) return;
    const cursor = this.cursors.get(entry.queue);
    if (cursor !== undefined && --cursor.subscribers === 0) this.cursors.delete(entry.queue);
  };

  private dispatch(matched: readonly Entry[], message: BusMessage): void {
    const only = matched.length === 1 ? matched[0] : undefined;
    if (only !== undefined) {
      // The common case: one subscriber gets it whether or not it is in a group.
      this.enqueue(only, message);
    } else {
      let plan = this.plans.get(matched);
      if (plan === undefined) {
        plan = this.planFor(matched);
        this.plans.set(matched, plan);
      }
      for (const entry of plan.plain) this.enqueue(entry, message);
      for (const { members, cursor } of plan.groups) {
        const member = members[cursor.next++ % members.length];
        if (member !== undefined) this.enqueue(member, message);
      }
    }
    if (!this.scheduled) {
      this.scheduled = true;
      // One pass delivers many publishers' messages: none's request id goes with it.
      queueMicrotask(() => outsideLogContext(this.drain));
    }
  }

  private planFor(matched: readonly Entry[]): DeliveryPlan {
    const plain: Entry[] = [];
    const byQueue = new Map<string, Entry[]>();
    for (const entry of matched) {
      if (entry.queue === undefined) {
        plain.push(entry);
        continue;
      }
      const members = byQueue.get(entry.queue);
      if (members === undefined) byQueue.set(entry.queue, [entry]);
      else members.push(entry);
    }
    const groups: QueueGroup[] = [];
    for (const [queue, members] of byQueue) {
      const cursor = this.cursors.get(queue);
      if (cursor !== undefined) groups.push({ members, cursor });
    }
    return { plain, groups };
  }

  private enqueue(entry: Entry, message: BusMessage): void {
    this.targets.push(entry);
    this.items.push(message);
  }

  private readonly drain = (): void => {
    const { targets, items } = this;
    // Messages published by handlers join the end of the queue and go out in this
    // same drain, behind everything already waiting. close() empties the arrays, which
    // ends the loop.
    for (let i = 0; i < targets.length; i++) {
      const item = items[i];
      if (typeof item === "function") {
        item();
        continue;
      }
      const target = targets[i];
      // Checked at delivery, not at publish: unsubscribe() stops messages already queued.
      if (target?.active && item !== undefined) this.deliver(target, item);
    }
    targets.length = 0;
    items.length = 0;
    this.scheduled = false;
  };

  private deliver(entry: Entry, message: BusMessage): void {
    try {
      const result: unknown = entry.handler(message);
      // An async handler's rejection would otherwise be unhandled and could end the process.
      if (result instanceof Promise) {
        result.catch((error: unknown) => this.report(error, message.subject));
      }
    } catch (error) {
      this.report(error, message.subject);
    }
  }

  private report(error: unknown, subject: string): void {
    this.errorCount++;
    try {
      this.onError?.(error, subject);
    } catch {
      // A reporter that throws has nowhere left to report to; delivery must go on.
    }
  }
}
