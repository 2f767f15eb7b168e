/**
 * The bus over a real NATS server, for an engine and agents on many hosts. It keeps the
 * `Bus` contract of the embedded bus: JSON payloads, the same subject rules checked
 * before anything reaches the wire, the same error classes.
 *
 * Where the two differ, NATS wins by nature: payloads are copied through JSON, queue
 * group members are picked by the server (not round-robin), and close() drains, so
 * messages already on their way are still handled. A subscription made on one
 * connection is active for publishers on other connections only after `flush()`.
 */
import {
  AuthorizationError,
  ClosedConnectionError,
  connect,
  DrainingConnectionError,
  InvalidArgumentError,
  type Msg,
  type NatsConnection,
  type Subscription as NatsSubscription,
  type NodeConnectionOptions,
  PermissionViolationError,
  RequestError,
  TimeoutError,
} from "@nats-io/transport-node";
import type { Logger } from "pino";
import {
  BusClosedError,
  BusTimeoutError,
  coerceError,
  InvalidInputError,
  NoRespondersError,
  UnavailableError,
} from "../errors";
import { silentLogger } from "../log";
import type {
  Bus,
  BusMessage,
  MessageHandler,
  RequestOptions,
  SubscribeOptions,
  Subscription,
} from "./bus";
import { requestTimeoutMs } from "./request-timeout";
import { isValidPattern, isValidQueueName, isValidSubject } from "./subject";

/** How long close() lets the drain run before it closes the connection outright. */
export const DRAIN_TIMEOUT_MS = 5000;

/** TLS for the connection: any of these (even none) means the server must speak TLS. */
export interface NatsTlsOptions {
  /** PEM CA certificate(s) the server's certificate must chain to. @default the system CAs */
  readonly caFile?: string;
  /** PEM client certificate, for servers that verify clients (`verify: true`). @default undefined */
  readonly certFile?: string;
  /** PEM private key of `certFile`. @default undefined */
  readonly keyFile?: string;
}

export interface NatsBusOptions {
  /** One or more `host:port` or `nats://` URLs. */
  readonly servers: string | string[];
  /** Shown by the server's monitoring pages. @default undefined */
  readonly name?: string;
  /** With `pass`, for servers that require a user. @default undefined */
  readonly user?: string;
  /** @default undefined */
  readonly pass?: string;
  /** For servers that require a token. @default undefined */
  readonly token?: string;
  /** Require TLS, trusting these files. @default undefined: TLS only if the server asks */
  readonly tls?: NatsTlsOptions;
  /**
   * Where replies to this connection's requests go. An agent uses its own
   * (`subjects.agentInbox`), so its permissions can keep it out of everyone else's.
   * @default "_INBOX"
   */
  readonly inboxPrefix?: string;
  /** Where connection changes and handler errors are logged. @default silentLogger */
  readonly log?: Logger;
  /** Reconnect attempts per server before giving up; -1 never gives up. @default -1 */
  readonly maxReconnectAttempts?: number;
  /** Pause between reconnect attempts. @default 250 */
  readonly reconnectTimeWaitMs?: number;
  /** Called each time the connection comes back after losing its server (metrics). */
  readonly onReconnect?: (server: string) => void;
}

const encoder = new TextEncoder();
const EMPTY = new Uint8Array(0);

/** `undefined` (which JSON cannot spell) travels as an empty payload. */
function encode(data: unknown): Uint8Array {
  let text: string | undefined;
  try {
    text = JSON.stringify(data);
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new InvalidInputError(`payload cannot be encoded as JSON: ${reason}`, "data");
  }
  return text === undefined ? EMPTY : encoder.encode(text);
}

function decode(msg: Msg): unknown {
  return msg.data.length === 0 ? undefined : msg.json<unknown>();
}

/** Why a connection was refused, in words that name what to fix. */
function connectFailure(error: unknown, options: NatsBusOptions): string {
  const message = error instanceof Error ? error.message : String(error);
  if (error instanceof AuthorizationError || /authorization violation/i.test(message)) {
    const who = options.user === undefined ? "no user" : `user "${options.user}"`;
    return `the server refused the credentials (${who}): authorization violation`;
  }
  const cause = error instanceof Error && error.cause instanceof Error ? error.cause : undefined;
  const tls = [message, cause?.message ?? ""].find((text) =>
    /certificate|self[- ]signed|TLS|SSL|handshake/i.test(text),
  );
  if (tls !== undefined) return `TLS failed: ${tls}`;
  return message;
}

function checkSubject(subject: string): void {
  if (!isValidSubject(subject)) {
    throw new InvalidInputError(`invalid subject "${subject}"`, "subject");
  }
}

class Entry implements Subscription {
  active = true;
  constructor(
    readonly pattern: string,
    private readonly subscription: () => NatsSubscription | undefined,
  ) {}

  unsubscribe(): void {
    if (!this.active) return;
    this.active = false;
    try {
      this.subscription()?.unsubscribe();
    } catch {
      // The connection is already closed, and with it every subscription.
    }
  }
}

export class NatsBus implements Bus {
  readonly kind = "nats" as const;
  /** The raw connection, for JetStream (see event-stream.ts). */
  readonly natsConnection: NatsConnection;
  private readonly log: Logger;
  private closed = false;
  private closing: Promise<void> | undefined;
  private isConnected = true;
  private reconnectCount = 0;
  private errorCount = 0;
  private readonly connectionListeners = new Set<(connected: boolean) => void>();
  /** Patterns the server refused to subscribe this connection to (its permissions). */
  private readonly refused = new Set<string>();
  /** Pending requests, by the function that rejects them. */
  private readonly requests = new Set<(error: Error) => void>();

  private constructor(
    nc: NatsConnection,
    log: Logger,
    private readonly onReconnect: ((server: string) => void) | undefined,
  ) {
    this.natsConnection = nc;
    this.log = log;
    this.watch().catch((error: unknown) => {
      this.log.warn({ err: error }, "NATS status watcher stopped");
    });
  }

  /** Connects, or rejects with `UnavailableError` when no server answers. */
  static async connect(options: NatsBusOptions): Promise<NatsBus> {
    const log = options.log ?? silentLogger;
    const connectOptions: NodeConnectionOptions = {
      servers: options.servers,
      maxReconnectAttempts: options.maxReconnectAttempts ?? -1,
      reconnectTimeWait: options.reconnectTimeWaitMs ?? 250,
    };
    // Only what was given: an explicit `undefined` must not reach the client's auth setup.
    if (options.name !== undefined) connectOptions.name = options.name;
    if (options.user !== undefined) connectOptions.user = options.user;
    if (options.pass !== undefined) connectOptions.pass = options.pass;
    if (options.token !== undefined) connectOptions.token = options.token;
    if (options.inboxPrefix !== undefined) connectOptions.inboxPrefix = options.inboxPrefix;
    if (options.tls !== undefined) connectOptions.tls = { ...options.tls };
    let nc: NatsConnection;
    try {
      nc = await connect(connectOptions);
    } catch (error) {
      throw new UnavailableError(
        `cannot connect to NATS at ${String(options.servers)}: ${connectFailure(error, options)}`,
        { cause: error },
      );
    }
    log.info({ server: nc.getServer() }, "connected to NATS");
    return new NatsBus(nc, log, options.onReconnect);
  }

  onConnectionChange(listener: (connected: boolean) => void): () => void {
    this.connectionListeners.add(listener);
    return () => this.connectionListeners.delete(listener);
  }

  private connectionChanged(connected: boolean) {
    for (const listener of this.connectionListeners) {
      try {
        listener(connected);
      } catch (error) {
        this.log.warn({ err: error }, "connection listener failed");
      }
    }
  }

  /** How many times the connection came back after losing its server. */
  get reconnects(): number {
    return this.reconnectCount;
  }

  /** Whether the connection is up right now (false while reconnecting and after close). */
  get connected(): boolean {
    return this.isConnected && !this.closed && !this.natsConnection.isClosed();
  }

  /**
   * Patterns the server refused this connection (a permissions violation). A refusal
   * arrives before the answer to a `flush()` made after the subscription.
   */
  get refusedSubscriptions(): string[] {
    return [...this.refused];
  }

  /** How many handler errors the bus has caught. */
  get errors(): number {
    return this.errorCount;
  }

  publish(subject: string, data: unknown): void {
    if (this.closed) throw new BusClosedError();
    checkSubject(subject);
    const payload = encode(data);
    try {
      this.natsConnection.publish(subject, payload);
    } catch (error) {
      throw this.mapError(error);
    }
  }

  subscribe<T = unknown>(
    pattern: string,
    handler: MessageHandler<T>,
    options: SubscribeOptions = {},
  ): Subscription {
    if (this.closed) throw new BusClosedError();
    if (!isValidPattern(pattern)) {
      throw new InvalidInputError(`invalid subject pattern "${pattern}"`, "pattern");
    }
    const queue = options.queue;
    if (queue !== undefined && !isValidQueueName(queue)) {
      throw new InvalidInputError(`invalid queue group name "${queue}"`, "queue");
    }
    // The bus cannot check payloads against T; like NATS, the subject is the contract.
    const deliver = handler as MessageHandler;
    let subscription: NatsSubscription | undefined;
    const entry = new Entry(pattern, () => subscription);
    try {
      subscription = this.natsConnection.subscribe(pattern, {
        ...(queue === undefined ? {} : { queue }),
        callback: (error, msg) => {
          if (error !== null) {
            // Terminal for this subscription (a permissions violation, say).
            this.log.error({ err: error, pattern, queue }, "NATS ended a subscription");
            if (error instanceof PermissionViolationError) this.refused.add(pattern);
            entry.active = false;
            return;
          }
          if (entry.active) this.deliver(deliver, msg);
        },
      });
    } catch (error) {
      throw this.mapError(error);
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
    checkSubject(subject);
    const payload = encode(data);
    return new Promise<T>((resolve, reject) => {
      // Leaving the set is the single point of settlement, as in the embedded bus: the
      // answer, the client's error or close(), whichever comes first.
      const fail = (error: Error): void => {
        if (this.requests.delete(fail)) reject(error);
      };
      this.requests.add(fail);
      this.natsConnection.request(subject, payload, { timeout: timeoutMs }).then(
        (reply) => {
          if (!this.requests.delete(fail)) return;
          try {
            // Whatever the responder sent is what the caller asked for; see subscribe().
            resolve(decode(reply) as T);
          } catch (error) {
            reject(new InvalidInputError(`reply on ${subject} is not JSON: ${String(error)}`));
          }
        },
        (error: unknown) => fail(this.mapError(error, subject, timeoutMs)),
      );
    });
  }

  async flush(): Promise<void> {
    if (this.closed) throw new BusClosedError();
    try {
      await this.natsConnection.flush();
    } catch (error) {
      throw this.mapError(error);
    }
  }

  /**
   * Drains: subscriptions stop taking new messages but handle those already sent to
   * them, and everything published is sent, before the connection closes. A drain
   * that hangs (no server to drain to) is cut short after DRAIN_TIMEOUT_MS.
   */
  close(): Promise<void> {
    if (this.closing !== undefined) return this.closing;
    this.closed = true;
    for (const fail of this.requests) fail(new BusClosedError());
    this.closing = this.shutdown();
    return this.closing;
  }

  private async shutdown(): Promise<void> {
    const nc = this.natsConnection;
    if (nc.isClosed()) return;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const drained = nc.drain().then(
      () => true,
      (error: unknown) => {
        this.log.warn({ err: error }, "NATS drain failed");
        return false;
      },
    );
    const expired = new Promise<false>((resolve) => {
      timer = setTimeout(() => resolve(false), DRAIN_TIMEOUT_MS);
    });
    const done = await Promise.race([drained, expired]);
    clearTimeout(timer);
    if (!done && !nc.isClosed()) {
      this.log.warn({ timeoutMs: DRAIN_TIMEOUT_MS }, "NATS drain did not finish; closing");
      await nc.close();
    }
  }

  private deliver(handler: MessageHandler, msg: Msg): void {
    const subject = msg.subject;
    let data: unknown;
    try {
      data = decode(msg);
    } catch (error) {
      // Someone outside the contract published on our subjects; nothing to hand over.
      this.report(error, subject, "dropped a message that is not JSON");
      return;
    }
    const message: BusMessage =
      msg.reply === undefined || msg.reply === ""
        ? { subject, data }
        : { subject, data, respond: (answer: unknown) => this.respond(msg, answer) };
    try {
      const result: unknown = handler(message);
      // An async handler's rejection would otherwise be unhandled and could end the process.
      if (result instanceof Promise) {
        result.catch((error: unknown) => this.report(error, subject, "message handler failed"));
      }
    } catch (error) {
      this.report(error, subject, "message handler failed");
    }
  }

  private respond(msg: Msg, answer: unknown): void {
    const payload = encode(answer);
    try {
      msg.respond(payload);
    } catch (error) {
      // Like the embedded bus, an answer nobody can receive any more is not an error
      // for the responder: the requester has its own timeout.
      this.log.debug({ err: error, subject: msg.subject }, "reply not sent");
    }
  }

  private report(error: unknown, subject: string, what: string): void {
    this.errorCount++;
    this.log.error({ err: error, subject }, what);
  }

  private mapError(error: unknown, subject?: string, timeoutMs?: number): Error {
    if (subject !== undefined) {
      if (error instanceof RequestError && error.isNoResponders()) {
        return new NoRespondersError(subject);
      }
      if (error instanceof TimeoutError && timeoutMs !== undefined) {
        return new BusTimeoutError(subject, timeoutMs);
      }
    }
    if (
      this.closed ||
      error instanceof ClosedConnectionError ||
      error instanceof DrainingConnectionError
    ) {
      return new BusClosedError();
    }
    // The client refuses, for one, a payload over the server's max_payload.
    if (error instanceof InvalidArgumentError) return new InvalidInputError(error.message, "data");
    return coerceError(error);
  }

  private async watch(): Promise<void> {
    for await (const status of this.natsConnection.status()) {
      switch (status.type) {
        case "disconnect":
          this.isConnected = false;
          this.log.warn({ server: status.server }, "disconnected from NATS");
          this.connectionChanged(false);
          break;
        case "reconnect":
          this.isConnected = true;
          this.reconnectCount++;
          this.log.info({ server: status.server }, "reconnected to NATS");
          this.connectionChanged(true);
          try {
            this.onReconnect?.(status.server);
          } catch (error) {
            this.log.warn({ err: error }, "reconnect callback failed");
          }
          break;
        case "error":
          this.log.warn({ err: status.error }, "NATS server error");
          break;
        case "slowConsumer":
          this.log.warn({ pending: status.pending }, "NATS slow consumer");
          break;
        default:
          break;
      }
    }
    this.isConnected = false;
  }
}
