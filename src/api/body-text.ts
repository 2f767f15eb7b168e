/**
 * Reads a request body as UTF-8 text with a size limit, for the families that parse
 * their own bodies (so every refusal comes back in their own error shape).
 */

/** `incomplete`: the client went away (or the server closed it) before the body ended. */
export type BodyFailure = "tooLarge" | "notUtf8" | "incomplete";

const MESSAGES: Record<BodyFailure, (maxBytes: number) => string> = {
  tooLarge: (maxBytes) => `the body is larger than ${maxBytes} bytes`,
  notUtf8: () => "the body is not valid UTF-8",
  incomplete: () => "the body ended before it was complete (the connection closed)",
};

/** Why a body could not be read; each family answers it in its own shape. */
export class BodyReadError extends Error {
  constructor(
    readonly failure: BodyFailure,
    readonly maxBytes: number,
    options?: { cause?: unknown },
  ) {
    super(MESSAGES[failure](maxBytes), options);
    this.name = "BodyReadError";
  }
}

/** The body's bytes, refused as soon as they pass `maxBytes` (nothing more is read). */
export async function readBodyBytes(
  request: Request,
  maxBytes: number,
): Promise<Uint8Array<ArrayBuffer>> {
  const declared = Number(request.headers.get("content-length"));
  if (Number.isFinite(declared) && declared > maxBytes) {
    throw new BodyReadError("tooLarge", maxBytes);
  }
  if (request.body === null) return new Uint8Array(0);
  const reader = request.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    let next: Awaited<ReturnType<typeof reader.read>>;
    try {
      next = await reader.read();
    } catch (error) {
      // A client that stops halfway is the client's failure, not the server's.
      throw new BodyReadError("incomplete", maxBytes, { cause: error });
    }
    const { done, value } = next;
    if (done) break;
    size += value.byteLength;
    if (size > maxBytes) {
      await reader.cancel();
      throw new BodyReadError("tooLarge", maxBytes);
    }
    chunks.push(value);
  }
  const bytes = new Uint8Array(size);
  let at = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, at);
    at += chunk.byteLength;
  }
  return bytes;
}

/** The body as UTF-8 text, refused as soon as it passes `maxBytes`. */
export async function readBodyText(request: Request, maxBytes: number): Promise<string> {
  const bytes = await readBodyBytes(request, maxBytes);
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch (error) {
    throw new BodyReadError("notUtf8", maxBytes, { cause: error });
  }
}
