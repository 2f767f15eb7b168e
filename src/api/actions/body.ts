/**
 * Reads an action's body ourselves (the route parses nothing): the app's error
 * handler runs before any plugin's, so a parse error raised by Elysia would come
 * back in the native shape, not XINA's.
 */
import { XinaError, XinaErrorCode } from "./errors";

/**
 * Larger bodies are refused with 400. It sits below the server's own limit (1 MiB by
 * default, answered 413 by the HTTP server before any route runs), so over HTTP a
 * body between the two gets this family's answer.
 */
export const MAX_BODY_BYTES = 512 * 1024;

const tooLarge = () =>
  new XinaError(XinaErrorCode.BodyTooLarge, `the body is larger than ${MAX_BODY_BYTES} bytes`);

/** The body as UTF-8 text, refused as soon as it passes `maxBytes`. */
async function readText(request: Request, maxBytes: number): Promise<string> {
  const declared = Number(request.headers.get("content-length"));
  if (Number.isFinite(declared) && declared > maxBytes) throw tooLarge();
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
      throw tooLarge();
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
    throw new XinaError(XinaErrorCode.InvalidJson, "the body is not valid UTF-8", {
      cause: error,
    });
  }
}

/** The parsed JSON body; any content type is read as JSON. */
export async function readJsonBody(request: Request, maxBytes = MAX_BODY_BYTES): Promise<unknown> {
  const text = await readText(request, maxBytes);
  if (text.trim() === "") {
    throw new XinaError(XinaErrorCode.InvalidJson, "the body is empty; send a JSON action");
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw new XinaError(XinaErrorCode.InvalidJson, "the body is not valid JSON", {
      cause: error,
    });
  }
}
