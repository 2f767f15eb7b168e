/**
 * The message bus between the engine, its agents and event subscribers.
 *
 * Two implementations share this contract: the embedded in-process bus (one binary,
 * no NATS server) and the NATS bus (many hosts). Payloads are plain JSON values; the
 * NATS implementation encodes them, the embedded one passes them by reference, so a
 * receiver must treat a payload as immutable.
 */

/** A message as a subscriber sees it. */
export interface BusMessage<T = unknown> {
  /** The concrete subject the message was published on (never a wildcard). */
  readonly subject: string;
  readonly data: T;
  /** Present when the sender waits for an answer (request/reply). */
  respond?(data: unknown): void;
}

export interface SubscribeOptions {
  /** Members of one queue group share the messages: each goes to exactly one of them. */
  readonly queue?: string;
}

export interface RequestOptions {
  /** How long to wait for the answer. @default 5000 */
  readonly timeoutMs?: number;
}

export interface Subscription {
  /** The pattern it was made with (`*` matches one token, `>` the rest). */
  readonly pattern: string;
  unsubscribe(): void;
}

export type MessageHandler<T = unknown> = (message: BusMessage<T>) => void;

export interface Bus {
  /** `nats` or `embedded`: what /health names it. */
  readonly kind: "nats" | "embedded";
  /** Fire and forget. Delivery is asynchronous: no handler runs inside this call. */
  publish(subject: string, data: unknown): void;
  subscribe<T = unknown>(
    pattern: string,
    handler: MessageHandler<T>,
    options?: SubscribeOptions,
  ): Subscription;
  /**
   * Sends to one responder and resolves with its answer. Rejects with
   * `NoRespondersError` when nobody listens on the subject, `BusTimeoutError` when the
   * answer does not come in time.
   */
  request<T = unknown>(subject: string, data: unknown, options?: RequestOptions): Promise<T>;
  /**
   * Calls `listener` with false when the connection to the transport drops and with
   * true when it is back; returns what stops the calls. Absent on a bus that cannot
   * lose its transport (the embedded one).
   */
  onConnectionChange?(listener: (connected: boolean) => void): () => void;
  /** Resolves when everything published before it has been handed to the transport. */
  flush(): Promise<void>;
  /** Stops delivery; pending requests reject with `BusClosedError`. */
  close(): Promise<void>;
}
