/**
 * Reads an action's body ourselves (the route parses nothing): the app's error
 * handler runs before any plugin's, so a parse error raised by Elysia would come
 * back in the native shape, not XINA's.
 */
import { DEFAULT_MAX_BODY_BYTES } from "../body-limit";
import { BodyReadError, readBodyText } from "../body-text";
import { XinaError, XinaErrorCode } from "./errors";

/** The body's text, refusals in this family's shape. */
async function readText(request: Request, maxBytes: number): Promise<string> {
  try {
    return await readBodyText(request, maxBytes);
  } catch (error) {
    if (!(error instanceof BodyReadError)) throw error;
    throw error.failure === "tooLarge"
      ? new XinaError(XinaErrorCode.BodyTooLarge, error.message, { status: 413 })
      : new XinaError(XinaErrorCode.InvalidJson, error.message, { cause: error });
  }
}

/** The parsed JSON body; any content type is read as JSON. Over `maxBytes` it is a 413. */
export async function readJsonBody(
  request: Request,
  maxBytes = DEFAULT_MAX_BODY_BYTES,
): Promise<unknown> {
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
