/**
 * A small Server-Sent Events reader: `fetch` and the response's byte stream, parsed
 * as the HTML spec says (fields `event`, `data`, `id`, `retry`; comments; CR, LF or
 * CRLF line ends), and a follower that reconnects with `Last-Event-ID` when the
 * stream ends or the connection drops.
 */
import { ApiError, errorMessage } from "./api";
import type { Io } from "./io";

export interface SseEvent {
  /** The event type; "message" when the server named none. */
  readonly event: string;
  readonly data: string;
  /** The last event id as of this event (the spec's "last event ID"), if any. */
  readonly id: string | undefined;
}

/** What the parser hands on: an event, or a new reconnection delay. */
export type SseItem = { type: "event"; event: SseEvent } | { type: "retry"; ms: number };

/** Parses an event stream incrementally: feed it text, take the items it completes. */
export class SseParser {
  private buffer = "";
  private data: string[] = [];
  private eventType = "";
  private lastId: string | undefined;
  /** A CR ended the last chunk: an LF starting the next one belongs to it. */
  private pendingCr = false;

  constructor(lastId?: string) {
    this.lastId = lastId;
  }

  feed(text: string): SseItem[] {
    let chunk = text;
    if (this.pendingCr && chunk.startsWith("\n")) chunk = chunk.slice(1);
    this.pendingCr = false;
    this.buffer += chunk;
    const items: SseItem[] = [];
    for (;;) {
      const match = /\r\n|\r|\n/.exec(this.buffer);
      if (!match) break;
      // A lone CR at the very end may be the first half of a CRLF.
      if (match[0] === "\r" && match.index === this.buffer.length - 1) this.pendingCr = true;
      const line = this.buffer.slice(0, match.index);
      this.buffer = this.buffer.slice(match.index + match[0].length);
      const item = this.line(line);
      if (item) items.push(item);
    }
    return items;
  }

  private line(line: string): SseItem | null {
    if (line === "") return this.dispatch();
    if (line.startsWith(":")) return null;
    const colon = line.indexOf(":");
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? "" : line.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    switch (field) {
      case "event":
        this.eventType = value;
        return null;
      case "data":
        this.data.push(value);
        return null;
      case "id":
        if (!value.includes("\0")) this.lastId = value;
        return null;
      case "retry":
        return /^\d+$/.test(value) ? { type: "retry", ms: Number(value) } : null;
      default:
        return null;
    }
  }

  private dispatch(): SseItem | null {
    const data = this.data;
    const eventType = this.eventType;
    this.data = [];
    this.eventType = "";
    if (data.length === 0) return null;
    return {
      type: "event",
      event: { event: eventType || "message", data: data.join("\n"), id: this.lastId },
    };
  }

  get lastEventId(): string | undefined {
    return this.lastId;
  }
}

export interface FollowOptions {
  readonly io: Io;
  readonly url: string;
  readonly headers: Record<string, string>;
  readonly onEvent: (event: SseEvent) => "stop" | undefined;
  /** Told when a connection was lost and another is about to be tried. */
  readonly onReconnect?: (reason: string, delayMs: number) => void;
  readonly signal: AbortSignal;
  readonly lastEventId?: string;
  /** The first delay before reconnecting; the server's `retry:` replaces it. @default 1000 */
  readonly retryMs?: number;
}

const MAX_BACKOFF_MS = 30_000;

/**
 * Follows an event stream until `signal` aborts, `onEvent` answers "stop", or the
 * server says there is nothing more (204). The first connection must succeed (an
 * unreachable API or an error answer throws ApiError); after that, a lost connection
 * or a 5xx is retried with `Last-Event-ID`, the delay doubling while attempts fail.
 */
export async function followSse(options: FollowOptions): Promise<void> {
  const { io, signal } = options;
  let lastId = options.lastEventId;
  let retryMs = options.retryMs ?? 1_000;
  let delay = retryMs;
  let connected = false;
  while (!signal.aborted) {
    const headers: Record<string, string> = {
      accept: "text/event-stream",
      "cache-control": "no-cache",
      ...options.headers,
    };
    if (lastId !== undefined) headers["last-event-id"] = lastId;
    let reason: string;
    try {
      const response = await io.fetch(options.url, { headers, signal });
      if (response.status === 204) return;
      if (!response.ok || !response.body) {
        const text = await response.text().catch(() => "");
        let body: unknown = text;
        try {
          body = JSON.parse(text);
        } catch {
          // Keep the text.
        }
        const error = new ApiError(
          errorMessage(response.status, response.statusText, body),
          response.status,
          body,
        );
        // A refusal (bad key, unknown task, no such route) will not change by retrying.
        if (!connected || (response.status < 500 && response.status !== 429)) throw error;
        reason = error.message;
      } else {
        connected = true;
        const parser = new SseParser(lastId);
        const decoder = new TextDecoder();
        const reader = response.body.getReader();
        let stop = false;
        try {
          while (!stop) {
            const { value, done } = await reader.read();
            if (done) break;
            for (const item of parser.feed(decoder.decode(value, { stream: true }))) {
              if (item.type === "retry") {
                retryMs = item.ms;
                continue;
              }
              lastId = item.event.id;
              // Something came through: the next drop waits the base delay again.
              delay = retryMs;
              if (options.onEvent(item.event) === "stop") {
                stop = true;
                break;
              }
            }
          }
        } finally {
          await reader.cancel().catch(() => {});
        }
        if (stop) return;
        lastId = parser.lastEventId;
        reason = "the stream ended";
      }
    } catch (error) {
      if (signal.aborted) return;
      if (error instanceof ApiError) throw error;
      if (!connected) {
        const message = (error as Error)?.message ?? String(error);
        throw new ApiError(`cannot reach ${new URL(options.url).origin}: ${message}`, null);
      }
      reason = (error as Error)?.message ?? String(error);
    }
    if (signal.aborted) return;
    options.onReconnect?.(reason, delay);
    await io.sleep(delay, signal);
    delay = Math.min(delay * 2, MAX_BACKOFF_MS);
  }
}
