/**
 * One request body size limit for every route, checked before the request is routed,
 * so that no route (Elysia's parsers or a family's own reader) ever holds more than
 * `maxBytes` of a body in memory. Over the limit the answer is 413 in the shape of the
 * family whose path it is (refusal-answer.ts).
 *
 * A body with a Content-Length over the limit is refused without reading a byte of
 * it. A body without one (chunked) is read here, up to the limit and no further, and
 * the request goes on with those bytes: the routes behind cannot tell the difference.
 * Bun's own `maxRequestBodySize` would also refuse such bodies, but with a bare 413
 * of its own and before any code of ours runs, so the server's is set far above this
 * one (app.ts) and only this one answers.
 */
import { Elysia } from "elysia";
import { BodyReadError, readBodyBytes } from "./body-text";

/** @default 1 MiB, a thousand times the largest body the seed APIs show */
export const DEFAULT_MAX_BODY_BYTES = 1024 * 1024;

/** Methods whose requests cannot carry a body in a `Request` built by hand. */
const BODILESS = new Set(["GET", "HEAD"]);

export function bodyLimit(maxBytes: number = DEFAULT_MAX_BODY_BYTES) {
  return new Elysia({ name: "body-limit" }).onRequest(async (context) => {
    const { request } = context;
    const declared = request.headers.get("content-length");
    if (declared !== null) {
      if (Number(declared) > maxBytes) throw new BodyReadError("tooLarge", maxBytes);
      return;
    }
    if (request.body === null) return;
    const bytes = await readBodyBytes(request, maxBytes);
    // The same request, with its body already in hand. Its signal goes along: long
    // polls and streams end when the client goes away.
    (context as { request: Request }).request = new Request(request.url, {
      method: request.method,
      headers: request.headers,
      signal: request.signal,
      ...(BODILESS.has(request.method) ? {} : { body: bytes }),
    });
  });
}
