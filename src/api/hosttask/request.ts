/**
 * Reads a request body ourselves: the routes let Elysia parse nothing, so a body
 * that is not JSON is answered in this family's shape (422), not by another
 * family's error handler.
 */
import { DEFAULT_MAX_BODY_BYTES } from "../body-limit";
import { readBodyText } from "../body-text";
import { invalidInput } from "./errors";

/**
 * The body parsed as JSON. @throws HostTaskError 422 when it is empty or not JSON, and
 * BodyReadError when it is over `maxBytes` or not UTF-8 (toHostTaskError answers it).
 */
export async function readJson(
  request: Request,
  maxBytes = DEFAULT_MAX_BODY_BYTES,
): Promise<unknown> {
  const text = await readBodyText(request, maxBytes);
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
