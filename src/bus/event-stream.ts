/**
 * The engine's events kept in a JetStream stream. The engine publishes them with plain
 * core NATS (the `Bus` contract knows nothing of JetStream); the stream captures every
 * subject under `fw.events.>` on the server side, so a subscriber that was away can
 * replay what it missed by sequence.
 */
import {
  DeliverPolicy,
  DiscardPolicy,
  JetStreamApiError,
  type JsMsg,
  jetstream,
  jetstreamManager,
  RetentionPolicy,
  StorageType,
} from "@nats-io/jetstream";
import { nanos } from "@nats-io/transport-node";
import { FleetworkError, InvalidInputError, UnavailableError } from "../errors";
import type { NatsBus } from "./nats-bus";
import { isValidPattern } from "./subject";

export const EVENT_STREAM_NAME = "FW_EVENTS";
export const EVENT_SUBJECTS = "fw.events.>";
/** @default 24 hours */
export const DEFAULT_EVENT_MAX_AGE_MS = 24 * 60 * 60 * 1000;
/** How long one replay may wait for the server to hand over the messages it counted. */
export const REPLAY_TIMEOUT_MS = 10_000;

/** The server's "stream name already in use with a different configuration". */
const STREAM_NAME_IN_USE = 10058;

export interface EventStreamOptions {
  /** @default "FW_EVENTS" */
  readonly name?: string;
  /** Events older than this are dropped. @default 86_400_000 (24 h) */
  readonly maxAgeMs?: number;
  /** Oldest events are dropped past this size; unset means no byte limit. @default undefined */
  readonly maxBytes?: number;
}

export interface ReplayOptions {
  /** A subject pattern inside the stream, e.g. `fw.events.task.>`. @default every subject */
  readonly filter?: string;
  /** The first stream sequence to return. @default 1 */
  readonly startSeq?: number;
  /** At most this many events come back. */
  readonly limit: number;
  /** @default "FW_EVENTS" */
  readonly stream?: string;
}

export interface ReplayedEvent {
  readonly seq: number;
  readonly subject: string;
  readonly data: unknown;
}

function positive(value: number, field: string): void {
  if (!Number.isFinite(value) || value <= 0) {
    throw new InvalidInputError(`${field} must be > 0, got ${value}`, field);
  }
}

function unavailable(what: string, error: unknown): FleetworkError {
  if (error instanceof FleetworkError) return error;
  const reason = error instanceof Error ? error.message : String(error);
  return new UnavailableError(`${what}: ${reason}`, { cause: error });
}

/**
 * Creates the event stream, or brings an existing one to these limits. File storage
 * and limits retention: events stay until they age out, whoever has read them.
 */
export async function ensureEventStream(
  bus: NatsBus,
  options: EventStreamOptions = {},
): Promise<void> {
  const name = options.name ?? EVENT_STREAM_NAME;
  const maxAgeMs = options.maxAgeMs ?? DEFAULT_EVENT_MAX_AGE_MS;
  positive(maxAgeMs, "maxAgeMs");
  if (options.maxBytes !== undefined) positive(options.maxBytes, "maxBytes");
  const limits = {
    subjects: [EVENT_SUBJECTS],
    max_age: nanos(maxAgeMs),
    max_bytes: options.maxBytes ?? -1,
    discard: DiscardPolicy.Old,
  };
  try {
    const jsm = await jetstreamManager(bus.natsConnection);
    try {
      // Creating a stream that exists with the same configuration succeeds, so the
      // common restart costs one round trip.
      await jsm.streams.add({
        name,
        storage: StorageType.File,
        retention: RetentionPolicy.Limits,
        ...limits,
      });
    } catch (error) {
      if (!(error instanceof JetStreamApiError && error.code === STREAM_NAME_IN_USE)) throw error;
      await jsm.streams.update(name, limits);
    }
  } catch (error) {
    throw unavailable(`cannot set up the event stream ${name}`, error);
  }
}

/**
 * Up to `limit` stored events in sequence order, from `startSeq` on. Uses a throwaway
 * ordered consumer and asks only for as many messages as the server says are pending,
 * so it returns as soon as they are in rather than waiting for more.
 */
export async function replayEvents(bus: NatsBus, options: ReplayOptions): Promise<ReplayedEvent[]> {
  const { limit, filter } = options;
  const stream = options.stream ?? EVENT_STREAM_NAME;
  const startSeq = options.startSeq ?? 1;
  if (!Number.isInteger(limit) || limit < 0) {
    throw new InvalidInputError(`limit must be a whole number >= 0, got ${limit}`, "limit");
  }
  if (!Number.isInteger(startSeq) || startSeq < 1) {
    throw new InvalidInputError(
      `startSeq must be a whole number >= 1, got ${startSeq}`,
      "startSeq",
    );
  }
  if (filter !== undefined && !isValidPattern(filter)) {
    throw new InvalidInputError(`invalid subject pattern "${filter}"`, "filter");
  }
  if (limit === 0) return [];
  try {
    const consumer = await jetstream(bus.natsConnection).consumers.get(stream, {
      deliver_policy: DeliverPolicy.StartSequence,
      opt_start_seq: startSeq,
      // A single filter as a string: filter lists need server 2.10.
      ...(filter === undefined ? {} : { filter_subjects: filter }),
    });
    try {
      const pending = (await consumer.info(true)).num_pending;
      const count = Math.min(limit, pending);
      if (count === 0) return [];
      const messages = await consumer.fetch({ max_messages: count, expires: REPLAY_TIMEOUT_MS });
      const events: ReplayedEvent[] = [];
      for await (const msg of messages) {
        events.push({ seq: msg.seq, subject: msg.subject, data: decode(msg) });
      }
      return events;
    } finally {
      await consumer.delete().catch(() => false);
    }
  } catch (error) {
    throw unavailable(`cannot replay events from ${stream}`, error);
  }
}

function decode(msg: JsMsg): unknown {
  return msg.data.length === 0 ? undefined : msg.json<unknown>();
}
