/**
 * Reads a request body ourselves: the routes let Elysia parse nothing, so a body
 * that is not JSON is answered in this family's shape (422), not by another
 * family's error handler.
 */
import { BodyReadError, readBodyText } from "../body-text";
import { HostTaskError, HostTaskErrorCode, invalidInput } from "./errors";

/**
 * Larger bodies are refused (413). Below the server's own limit (1 MiB by default,
 * answered by the HTTP server before any route runs).
 */
export const MAX_BODY_BYTES = 256 * 1024;

/** The body's text, refusals in this family's shape. */
async function readText(request: Request): Promise<string> {
  try {
    return await readBodyText(request, MAX_BODY_BYTES);
  } catch (error) {
    if (!(error instanceof BodyReadError)) throw error;
    if (error.failure === "tooLarge") {
      throw new HostTaskError(413, HostTaskErrorCode.InvalidInput, "Request body too large", [
        { property: "body", message: error.message },
      ]);
    }
    throw invalidInput([{ property: "body", message: error.message }]);
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
