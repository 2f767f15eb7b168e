/**
 * Server-Sent Events: one response whose body stays open and carries frames
 * (`id:`, `event:`, `data:`), with a comment every `heartbeatMs` so proxies and
 * clients see the connection is alive. It ends when the client goes away (the
 * request's signal) or the producer closes it.
 */

import { type TSchema, t } from "elysia";

/** How often an idle stream sends a comment. @default 15 s */
export const HEARTBEAT_MS = 15_000;

export interface SseFrame {
  /** The frame's id: what the client sends back as `Last-Event-ID`. */
  readonly id?: number | string;
  readonly event?: string;
  /** Sent as JSON. */
  readonly data: unknown;
}

export interface SseSink {
  send(frame: SseFrame): void;
  comment(text: string): void;
  close(): void;
  readonly closed: boolean;
  /** Aborted when the stream ends, whoever ends it. */
  readonly signal: AbortSignal;
}

/** The bytes of one frame: `id: …\nevent: …\ndata: …\n\n`. */
export function frameText(frame: SseFrame): string {
  let text = "";
  if (frame.id !== undefined) text += `id: ${frame.id}\n`;
  if (frame.event !== undefined) text += `event: ${frame.event}\n`;
  // JSON has no raw newlines, so the data is one `data:` line.
  return `${text}data: ${JSON.stringify(frame.data ?? null)}\n\n`;
}

/**
 * A streaming response. `open` runs once the stream is ready: it sends what it
 * wants and returns a cleanup that runs exactly once when the stream ends.
 */
export function sseResponse(
  request: Request,
  open: (sink: SseSink) => (() => void) | undefined,
  heartbeatMs = HEARTBEAT_MS,
): Response {
  const encoder = new TextEncoder();
  const ended = new AbortController();
  let cleanup: (() => void) | undefined;
  let heartbeat: ReturnType<typeof setInterval> | undefined;
  let controller!: ReadableStreamDefaultController<Uint8Array>;

  const finish = () => {
    if (ended.signal.aborted) return;
    ended.abort();
    clearInterval(heartbeat);
    request.signal.removeEventListener("abort", finish);
    try {
      cleanup?.();
    } finally {
      try {
        controller.close();
      } catch {
        // Already closed or cancelled by the client.
      }
    }
  };
  const write = (text: string) => {
    if (ended.signal.aborted) return;
    try {
      controller.enqueue(encoder.encode(text));
    } catch {
      finish();
    }
  };
  const sink: SseSink = {
    send: (frame) => write(frameText(frame)),
    comment: (text) => write(`: ${text.replace(/\n/g, " ")}\n\n`),
    close: finish,
    get closed() {
      return ended.signal.aborted;
    },
    signal: ended.signal,
  };

  const body = new ReadableStream<Uint8Array>({
    start(streamController) {
      controller = streamController;
      if (request.signal.aborted) {
        finish();
        return;
      }
      request.signal.addEventListener("abort", finish, { once: true });
      heartbeat = setInterval(() => sink.comment("heartbeat"), heartbeatMs);
      // Headers and a first line at once, so the client knows it is connected.
      sink.comment("connected");
      try {
        const done = open(sink);
        if (ended.signal.aborted) done?.();
        else cleanup = done;
      } catch (error) {
        finish();
        throw error;
      }
    },
    cancel() {
      finish();
    },
  });
  return new Response(body, {
    headers: {
      "content-type": "text/event-stream; charset=utf-8",
      "cache-control": "no-cache",
      connection: "keep-alive",
      "x-accel-buffering": "no",
    },
  });
}

/**
 * Lifts Bun's idle timeout (10 s by default) for this request: an SSE response
 * may stay quiet longer than that between heartbeats.
 */
export function keepOpen(server: unknown, request: Request): void {
  const bun = server as { timeout?: (request: Request, seconds: number) => void } | null;
  bun?.timeout?.(request, 0);
}

/**
 * The OpenAPI answers of an SSE route: a stream on success, the native error shape
 * (`errors`) otherwise. Given as `detail.responses`: a `response` schema would be
 * documented as JSON or text/plain.
 */
export function sseResponses(
  errors: Readonly<Record<number, TSchema>>,
  description: string,
): Record<string, { description: string; content: Record<string, { schema: TSchema }> }> {
  const responses: Record<
    string,
    { description: string; content: Record<string, { schema: TSchema }> }
  > = {
    200: { description, content: { "text/event-stream": { schema: t.String() } } },
  };
  for (const [status, schema] of Object.entries(errors)) {
    responses[status] = {
      description: "what went wrong",
      content: { "application/json": { schema } },
    };
  }
  return responses;
}
