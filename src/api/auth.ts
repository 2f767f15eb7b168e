/**
 * API keys and tenants. Every request but `GET /` names its client by one of the
 * headers the five task APIs use (`client` + `api-key`, `PRIVATE-TOKEN`, or
 * `Authorization: Bearer`); the client is the tenant every entity it creates belongs
 * to. Each API family answers a failure in its own error shape.
 */
import { UnauthorizedError } from "../errors";

export interface ApiKey {
  readonly client: string;
  readonly key: string;
}

export type AuthFailure = "missing" | "invalid";

export class ApiKeys {
  private readonly byKey = new Map<string, string>();

  constructor(keys: readonly ApiKey[]) {
    for (const { client, key } of keys) this.byKey.set(key, client);
  }

  get size(): number {
    return this.byKey.size;
  }

  /** The client a request acts for, or why it has none. */
  authenticate(headers: Headers): { client: string } | { failure: AuthFailure } {
    const bearer = headers.get("authorization")?.match(/^Bearer\s+(.+)$/i)?.[1];
    const token = bearer ?? headers.get("private-token") ?? headers.get("api-key");
    if (!token) return { failure: "missing" };
    const client = this.lookup(token.trim());
    if (client === undefined) return { failure: "invalid" };
    // With `client` + `api-key`, the named client must own the key.
    const named = headers.get("client");
    if (bearer === undefined && headers.get("api-key") && named !== null && named !== client) {
      return { failure: "invalid" };
    }
    return { client };
  }

  /** The client, or an UnauthorizedError saying why there is none. */
  require(headers: Headers): string {
    const result = this.authenticate(headers);
    if ("failure" in result) {
      throw new UnauthorizedError(
        result.failure === "missing"
          ? "an API key is required (Authorization: Bearer <key>, PRIVATE-TOKEN, or client + api-key)"
          : "the API key is not valid",
      );
    }
    return result.client;
  }

  private lookup(token: string): string | undefined {
    let found: string | undefined;
    // Every key is compared in full, so timings do not tell how much of a key matched.
    for (const [key, client] of this.byKey) {
      if (sameText(key, token)) found = client;
    }
    return found;
  }
}

function sameText(a: string, b: string): boolean {
  let difference = a.length ^ b.length;
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    difference |= (a.charCodeAt(i) || 0) ^ (b.charCodeAt(i) || 0);
  }
  return difference === 0;
}
