/**
 * Reads a request body ourselves: the routes let Elysia parse nothing, so a body
 * that is not JSON is answered in this family's shape (422), not by another
 * family's error handler.
 */
import { HostTaskError, HostTaskErrorCode, invalidInput } from "./errors";

/**
 * Larger bodies are refused (413). Below the server's own limit (1 MiB by default,
 * answered by the HTTP server before any route runs).
 */
export const MAX_BODY_BYTES = 256 * 1024;

const tooLarge = () =>
  new HostTaskError(413, HostTaskErrorCode.InvalidInput, "Request body too large", [
    { property: "body", message: `the body is larger than ${MAX_BODY_BYTES} bytes` },
  ]);

async function readText(request: Request): Promise<string> {
  const declared = Number(request.headers.get("content-length"));
  if (Number.isFinite(declared) && declared > MAX_BODY_BYTES) throw tooLarge();
  if (request.body === null) return "";
  const reader = request.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > MAX_BODY_BYTES) {
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
  } catch {
    throw invalidInput([{ property: "body", message: "the body is not valid UTF-8" }]);
  }
}

/** The body parsed as JSON. @throws HostTaskError 422 when it is empty or not JSON. */
export async function readJson(request: Request): Promise<unknown> {
  const text = await readText(request);
  if (text.trim() === "") {
    throw invalidInput([{ property: "body", message: "a JSON object is required" }]);
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw invalidInput([
      { property: "body", message: `the body is not valid JSON: ${(error as Error).message}` },
    ]);
  }
}
