/**
 * The engine's HTTP API as the command line sees it: where it is, which key to send,
 * and its answers (or its errors, in whichever API family's shape they come).
 * The client never imports the engine: everything goes over HTTP.
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { Io } from "./io";

export const DEFAULT_URL = "http://localhost:8080";
export const DEFAULT_DATA_DIR = "./data";
/** The file the server writes its generated key to when FW_API_KEYS is unset. */
export const KEY_FILE = "api-key";
const REQUEST_TIMEOUT_MS = 30_000;

/** The options every client command takes. */
export interface ConnectionOptions {
  readonly url?: string;
  readonly key?: string;
  readonly dataDir?: string;
  readonly json?: boolean;
}

export interface Connection {
  readonly url: string;
  readonly key: string | null;
  /** Where the key came from, for the hint after a 401. */
  readonly keySource: string;
}

/** `--url`, FW_URL, the default; `--key`, FW_API_KEY, `<data-dir>/api-key`. */
export function resolveConnection(options: ConnectionOptions, io: Io): Connection {
  const url = (options.url ?? io.env.FW_URL ?? DEFAULT_URL).replace(/\/+$/, "");
  if (options.key) return { url, key: options.key, keySource: "--key" };
  if (io.env.FW_API_KEY) return { url, key: io.env.FW_API_KEY, keySource: "FW_API_KEY" };
  const dataDir = options.dataDir ?? io.env.FW_DATA_DIR ?? DEFAULT_DATA_DIR;
  const file = join(dataDir, KEY_FILE);
  if (existsSync(file)) {
    // "client:key", as the server writes it.
    const text = readFileSync(file, "utf8").trim();
    const key = text.includes(":") ? text.slice(text.indexOf(":") + 1) : text;
    if (key) return { url, key, keySource: file };
  }
  return { url, key: null, keySource: `none (no --key, FW_API_KEY or ${file})` };
}

/** The API answered an error (or could not be reached): exit 1 with its message. */
export class ApiError extends Error {
  override readonly name = "ApiError";
  constructor(
    message: string,
    readonly status: number | null,
    readonly body: unknown = null,
  ) {
    super(message);
  }
}

/**
 * The message of an error answer in any of the API families' shapes: native
 * `{error: {code, message}}`, host tasks `{errorCode, errorMessage, errors}`,
 * `{error: "..."}`, executor `{error: {message}}`.
 */
export function errorMessage(status: number, statusText: string, body: unknown): string {
  if (body && typeof body === "object") {
    const b = body as Record<string, unknown>;
    if (typeof b.error === "string") return b.error;
    if (b.error && typeof b.error === "object") {
      const e = b.error as Record<string, unknown>;
      if (typeof e.message === "string") return e.message;
    }
    if (typeof b.errorMessage === "string") {
      const details = Array.isArray(b.errors)
        ? (b.errors as { message?: unknown }[])
            .map((d) => (typeof d?.message === "string" ? d.message : ""))
            .filter(Boolean)
        : [];
      return details.length > 0 ? `${b.errorMessage}: ${details.join("; ")}` : b.errorMessage;
    }
  }
  if (typeof body === "string" && body.trim())
    return `HTTP ${status}: ${body.trim().slice(0, 200)}`;
  return `HTTP ${status} ${statusText}`.trim();
}

export type AuthStyle = "bearer" | "private-token";

export class ApiClient {
  constructor(
    readonly connection: Connection,
    private readonly io: Io,
  ) {}

  headers(style: AuthStyle = "bearer"): Record<string, string> {
    const key = this.connection.key;
    if (key === null) return {};
    return style === "bearer" ? { authorization: `Bearer ${key}` } : { "PRIVATE-TOKEN": key };
  }

  /** One JSON call; throws ApiError on an error answer or when the API cannot be reached. */
  async call<T>(
    method: string,
    path: string,
    body?: unknown,
    style: AuthStyle = "bearer",
  ): Promise<T> {
    const headers: Record<string, string> = { accept: "application/json", ...this.headers(style) };
    if (body !== undefined) headers["content-type"] = "application/json";
    let response: Response;
    try {
      response = await this.io.fetch(`${this.connection.url}${path}`, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
      });
    } catch (error) {
      throw this.unreachable(error);
    }
    const text = await response.text();
    let parsed: unknown = text;
    try {
      parsed = text ? JSON.parse(text) : null;
    } catch {
      // Not JSON: keep the text for the message.
    }
    if (!response.ok) throw this.answerError(response, parsed);
    return parsed as T;
  }

  unreachable(error: unknown): ApiError {
    const reason = (error as Error)?.message ?? String(error);
    return new ApiError(`cannot reach ${this.connection.url}: ${reason}`, null);
  }

  answerError(response: Response, body: unknown): ApiError {
    let message = errorMessage(response.status, response.statusText, body);
    if ((response.status === 401 || response.status === 403) && this.connection.key === null) {
      message += ` (API key: ${this.connection.keySource}; pass --key or set FW_API_KEY)`;
    }
    return new ApiError(message, response.status, body);
  }
}
