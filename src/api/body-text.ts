/**
 * Reads a request body as UTF-8 text with a size limit, for the families that parse
 * their own bodies (so every refusal comes back in their own error shape).
 */

export type BodyFailure = "tooLarge" | "notUtf8";

/** Why a body could not be read; each family answers it in its own shape. */
export class BodyReadError extends Error {
  constructor(
    readonly failure: BodyFailure,
    readonly maxBytes: number,
    options?: { cause?: unknown },
  ) {
    super(
      failure === "tooLarge"
        ? `the body is larger than ${maxBytes} bytes`
        : "the body is not valid UTF-8",
      options,
    );
    this.name = "BodyReadError";
  }
}

/** The body as UTF-8 text, refused as soon as it passes `maxBytes`. */
export async function readBodyText(request: Request, maxBytes: number): Promise<string> {
  const declared = Number(request.headers.get("content-length"));
  if (Number.isFinite(declared) && declared > maxBytes) {
    throw new BodyReadError("tooLarge", maxBytes);
  }
  if (request.body === null) return "";
  const reader = request.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
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
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch (error) {
    throw new BodyReadError("notUtf8", maxBytes, { cause: error });
  }
}
