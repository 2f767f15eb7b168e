/**
 * The job family reads its own input: bodies (JSON whatever the content type says,
 * since `curl -d` sends form-urlencoded), path ids and the `GET /jobs` query. Every
 * refusal is a 400 whose message starts with the field or parameter it is about;
 * objects refuse fields they do not know.
 */
import type { JobChanges, JobListQuery } from "../../runtime/commands";
import { DEFAULT_MAX_BODY_BYTES } from "../body-limit";
import { readBodyText } from "../body-text";
import { badInput } from "./errors";

export const MAX_LIMIT = 1000;
export const DEFAULT_LIMIT = 10;
const MAX_IDS = 1000;
const MAX_URL = 2048;
const MAX_REST_ENDPOINTS = 20;
const MAX_TEXT = 256;
/** The engine's own bound on a job's priority (src/runtime/jobs.ts). */
export const MAX_PRIORITY = 1_000_000;

/** seed-spec 4.3: the queue_state ids. */
export const QUEUE_STATES = [
  "queued",
  "started",
  "completed",
  "pending",
  "broken",
  "scheduled",
  "paused",
] as const;

export const ORDER_BY = ["id", "created_at", "updated_at", "priority", "run_at"] as const;

type Json = Record<string, unknown>;

const isObject = (value: unknown): value is Json =>
  typeof value === "object" && value !== null && !Array.isArray(value);

const describe = (value: unknown) =>
  value === null ? "null" : Array.isArray(value) ? "a list" : `a ${typeof value}`;

/** The body as a JSON object; over `maxBytes` it is refused before it is parsed (413). */
export async function readObject(
  request: Request,
  maxBytes = DEFAULT_MAX_BODY_BYTES,
): Promise<Json> {
  const text = await readBodyText(request, maxBytes);
  if (text.trim() === "") throw badInput("body", "body: a JSON object is required");
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw badInput("body", `body: not valid JSON (${(error as Error).message})`);
  }
  if (!isObject(value))
    throw badInput("body", `body: must be a JSON object, not ${describe(value)}`);
  return value;
}

function refuseUnknown(object: Json, allowed: readonly string[], prefix = "", hint = "") {
  for (const key of Object.keys(object)) {
    if (!allowed.includes(key)) {
      throw badInput(
        `${prefix}${key}`,
        `${prefix}${key}: unknown field; allowed: ${allowed.join(", ")}${hint}`,
      );
    }
  }
}

/** A whole number (or its digits as a string, as the seed's PUT sample sends it). */
function priorityOf(value: unknown, field: string): number {
  const n =
    typeof value === "number"
      ? value
      : typeof value === "string" && /^\s*-?\d{1,7}\s*$/.test(value)
        ? Number(value)
        : Number.NaN;
  if (!Number.isSafeInteger(n) || Math.abs(n) > MAX_PRIORITY) {
    throw badInput(
      field,
      `${field}: must be a whole number from -${MAX_PRIORITY} to ${MAX_PRIORITY} (lower is more urgent)`,
    );
  }
  return n;
}

const UTC_TIME = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})\.(\d{3})Z?$/;

/**
 * `yyyy-MM-ddTHH:mm:ss.fff` in UTC (seed-spec 4.8); a trailing `Z` is taken too, since
 * the API writes its own times that way. A date that does not exist is refused.
 */
export function utcTime(value: unknown, field: string): number {
  const match = typeof value === "string" ? UTC_TIME.exec(value) : null;
  const ms = match ? exactUtc(match.slice(1)) : undefined;
  if (ms === undefined) {
    throw badInput(
      field,
      `${field}: must be a UTC time as yyyy-MM-ddTHH:mm:ss.fff, e.g. 2030-09-09T14:30:00.000`,
    );
  }
  return ms;
}

/**
 * Epoch ms of [year, month, day, hour, minute, second, millisecond] (digits; absent
 * parts are 0), or undefined when they name no real time (Feb 30, hour 24, ...).
 */
function exactUtc(parts: readonly (string | undefined)[]): number | undefined {
  const [y = 0, mo = 0, d = 0, h = 0, mi = 0, s = 0, f = 0] = parts.map((part) =>
    Number(part ?? 0),
  );
  const ms = Date.UTC(y, mo - 1, d, h, mi, s, f);
  const date = new Date(ms);
  const same =
    date.getUTCFullYear() === y &&
    date.getUTCMonth() === mo - 1 &&
    date.getUTCDate() === d &&
    date.getUTCHours() === h &&
    date.getUTCMinutes() === mi &&
    date.getUTCSeconds() === s;
  return same && y >= 1970 ? ms : undefined;
}

function httpUrl(value: unknown, field: string): string {
  if (typeof value === "string" && value.length <= MAX_URL) {
    try {
      const url = new URL(value);
      if (url.protocol === "http:" || url.protocol === "https:") return value;
    } catch {
      // refused below
    }
  }
  throw badInput(field, `${field}: must be an http or https URL of at most ${MAX_URL} characters`);
}

/** `semaphore_url`, or the seed's spelling `sempahore_url` (not both). */
function semaphoreOf(object: Json, prefix: string): unknown {
  const right = object.semaphore_url;
  const typo = object.sempahore_url;
  if (right !== undefined && typo !== undefined) {
    throw badInput(
      `${prefix}semaphore_url`,
      `${prefix}semaphore_url: give semaphore_url or sempahore_url, not both`,
    );
  }
  return right !== undefined ? right : typo;
}

function sameClient(body: Json, client: string) {
  if (body.client === undefined) return;
  if (typeof body.client !== "string" || body.client !== client) {
    throw badInput(
      "client",
      `client: must be the client you authenticate as (${client}), or left out`,
    );
  }
}

// ---- POST /job ----------------------------------------------------------------

export interface CreateJob {
  readonly workflow: string;
  readonly parameters: Record<string, unknown>;
  readonly priority?: number;
  readonly runAt?: number;
  readonly semaphoreUrl?: string;
}

const CREATE_KEYS = ["client", "job", "parameters"] as const;
const JOB_KEYS = ["workflow", "priority", "run_at", "semaphore_url", "sempahore_url"] as const;

/**
 * `{client?, job: {workflow, priority?, run_at?, semaphore_url?}, parameters:
 * {content_id, rest_endpoints?, ...}}` (seed-spec 4.5). `client`, when given, must be
 * the authenticated one; the rest of `parameters` is the workflow's business.
 */
export function parseCreate(body: Json, client: string): CreateJob {
  refuseUnknown(body, CREATE_KEYS, "", " (priority, run_at and semaphore_url go inside job)");
  sameClient(body, client);
  const job = body.job;
  if (!isObject(job)) {
    throw badInput("job", `job: required, an object with workflow (not ${describe(job)})`);
  }
  refuseUnknown(job, JOB_KEYS, "job.");
  if (typeof job.workflow !== "string" || !/^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$/.test(job.workflow)) {
    throw badInput("job.workflow", "job.workflow: required, the name of a workflow");
  }
  const parameters = body.parameters;
  if (!isObject(parameters)) {
    throw badInput(
      "parameters",
      `parameters: required, an object with content_id (not ${describe(parameters)})`,
    );
  }
  const contentId = parameters.content_id;
  if (typeof contentId !== "string" || contentId.length === 0 || contentId.length > MAX_TEXT) {
    throw badInput(
      "parameters.content_id",
      `parameters.content_id: required, a string of 1 to ${MAX_TEXT} characters`,
    );
  }
  const endpoints = parameters.rest_endpoints;
  if (endpoints !== undefined) {
    if (!Array.isArray(endpoints) || endpoints.length > MAX_REST_ENDPOINTS) {
      throw badInput(
        "parameters.rest_endpoints",
        `parameters.rest_endpoints: must be a list of at most ${MAX_REST_ENDPOINTS} callback URLs`,
      );
    }
    endpoints.forEach((url, i) => {
      httpUrl(url, `parameters.rest_endpoints[${i}]`);
    });
  }
  const semaphore = semaphoreOf(job, "job.");
  return {
    workflow: job.workflow,
    parameters,
    ...(job.priority === undefined ? {} : { priority: priorityOf(job.priority, "job.priority") }),
    ...(job.run_at === undefined ? {} : { runAt: utcTime(job.run_at, "job.run_at") }),
    ...(semaphore === undefined ? {} : { semaphoreUrl: httpUrl(semaphore, "job.semaphore_url") }),
  };
}

// ---- PUT /jobs/<id> -----------------------------------------------------------

const UPDATE_KEYS = [
  "client",
  "queue_state",
  "run_at",
  "priority",
  "semaphore_url",
  "sempahore_url",
] as const;
const TO_STATES = ["paused", "broken", "queued"] as const;

/** seed-spec 4.8: only these fields; `semaphore_url` null or "" clears it. */
export function parseChanges(body: Json, client: string): JobChanges {
  refuseUnknown(body, UPDATE_KEYS);
  sameClient(body, client);
  const changes: {
    queueState?: JobChanges["queueState"];
    runAt?: number;
    priority?: number;
    semaphoreUrl?: string | null;
  } = {};
  if (body.queue_state !== undefined) {
    const to = body.queue_state;
    if (typeof to !== "string" || !(TO_STATES as readonly string[]).includes(to)) {
      throw badInput(
        "queue_state",
        "queue_state: may be set to paused, broken, or queued (to unpause) only",
      );
    }
    changes.queueState = to as JobChanges["queueState"];
  }
  if (body.run_at !== undefined) changes.runAt = utcTime(body.run_at, "run_at");
  if (body.priority !== undefined) changes.priority = priorityOf(body.priority, "priority");
  const semaphore = semaphoreOf(body, "");
  if (semaphore !== undefined) {
    changes.semaphoreUrl =
      semaphore === null || semaphore === "" ? null : httpUrl(semaphore, "semaphore_url");
  }
  if (Object.keys(changes).length === 0) {
    throw badInput(
      "body",
      "body: nothing to update; give queue_state, run_at, priority or semaphore_url",
    );
  }
  return changes;
}

// ---- PUT /scheduler, POST /settings, PUT /workflows/<name> ---------------------

export function parseScheduler(body: Json): { schedule: string; active: boolean } {
  refuseUnknown(body, ["schedule", "active"]);
  const { schedule, active } = body;
  if (typeof schedule !== "string" || schedule.length === 0 || schedule.length > MAX_TEXT) {
    throw badInput("schedule", "schedule: required, the name of a schedule");
  }
  const flag = active === "true" ? true : active === "false" ? false : active;
  if (typeof flag !== "boolean") throw badInput("active", "active: required, true or false");
  return { schedule, active: flag };
}

export function parseSetting(body: Json): { name: string; setting: string } {
  refuseUnknown(body, ["name", "setting"]);
  const { name, setting } = body;
  if (typeof name !== "string" || name.length === 0) {
    throw badInput("name", "name: required, the setting's name");
  }
  if (typeof setting === "number" && Number.isFinite(setting)) {
    return { name, setting: String(setting) };
  }
  if (typeof setting !== "string" || setting.length > 10_000) {
    throw badInput("setting", 'setting: required, the value as a string (e.g. "4")');
  }
  return { name, setting };
}

/** The body with `name` filled from the path; a different name in the body is refused. */
export function parseWorkflow(body: Json, name: string): Json {
  if (body.name === undefined) return { ...body, name };
  if (body.name !== name) {
    throw badInput("name", `name: the body names ${JSON.stringify(body.name)}, the path ${name}`);
  }
  return body;
}

// ---- ids and the GET /jobs query --------------------------------------------------

/** A job id from the path: a positive whole number. */
export function jobId(raw: string | undefined, field = "id"): number {
  const id = raw !== undefined && /^[1-9]\d{0,14}$/.test(raw) ? Number(raw) : Number.NaN;
  if (!Number.isSafeInteger(id)) {
    throw badInput(
      field,
      `${field}: a job id is a positive whole number, not ${JSON.stringify(raw)}`,
    );
  }
  return id;
}

const LIST_PARAMS = [
  "limit",
  "order_by",
  "asc",
  "state",
  "from",
  "to",
  "failed",
  "search",
  "job_ids",
  "client",
  "persist",
] as const;

function flag(raw: string, name: string): boolean {
  if (raw === "1" || raw === "true") return true;
  if (raw === "0" || raw === "false") return false;
  throw badInput(name, `${name}: must be 1 (true) or 0 (false)`);
}

const DAY = /^(\d{4})-(\d{2})-(\d{2})$/;
const DAY_MS = 86_400_000;

/**
 * A `from`/`to` bound on created_at: `yyyy-MM-dd` (the whole day), or a UTC time
 * `yyyy-MM-ddTHH:mm:ss[.fff][Z]`. Both bounds are inclusive.
 */
function bound(raw: string, name: "from" | "to"): number {
  const day = DAY.exec(raw);
  if (day) {
    const start = exactUtc(day.slice(1));
    if (start !== undefined) return name === "from" ? start : start + DAY_MS - 1;
  }
  const time = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{3}))?Z?$/.exec(raw);
  const ms = time ? exactUtc(time.slice(1)) : undefined;
  if (ms === undefined) {
    throw badInput(
      name,
      `${name}: must be a UTC date yyyy-MM-dd or time yyyy-MM-ddTHH:mm:ss[.fff], not ${JSON.stringify(raw)}`,
    );
  }
  return ms;
}

/**
 * seed-spec 4.6: no parameters → the last 10 jobs, newest first. `failed` applies
 * only with `state=2` and is ignored otherwise; `persist` is accepted and ignored
 * (this engine keeps every job). Each parameter at most once; unknown ones refused.
 */
export function parseListQuery(params: URLSearchParams): JobListQuery {
  const seen = new Map<string, string>();
  for (const [name, value] of params) {
    if (!(LIST_PARAMS as readonly string[]).includes(name)) {
      throw badInput(name, `${name}: unknown parameter; allowed: ${LIST_PARAMS.join(", ")}`);
    }
    if (seen.has(name)) throw badInput(name, `${name}: given more than once`);
    seen.set(name, value);
  }
  const get = (name: (typeof LIST_PARAMS)[number]) => seen.get(name);
  const query: {
    -readonly [K in keyof JobListQuery]: JobListQuery[K];
  } = { orderBy: "id", ascending: false, limit: DEFAULT_LIMIT };

  const limit = get("limit");
  if (limit !== undefined) {
    const n = /^\d{1,7}$/.test(limit) ? Number(limit) : Number.NaN;
    if (!(n >= 1 && n <= MAX_LIMIT)) {
      throw badInput("limit", `limit: must be a whole number from 1 to ${MAX_LIMIT}`);
    }
    query.limit = n;
  }
  const orderBy = get("order_by");
  if (orderBy !== undefined) {
    if (!(ORDER_BY as readonly string[]).includes(orderBy)) {
      throw badInput("order_by", `order_by: must be one of ${ORDER_BY.join(", ")}`);
    }
    query.orderBy = orderBy as JobListQuery["orderBy"];
  }
  const asc = get("asc");
  if (asc !== undefined) query.ascending = flag(asc, "asc");
  const state = get("state");
  if (state !== undefined) {
    query.states = state.split(",").map((part) => {
      const name = /^[0-6]$/.test(part.trim()) ? QUEUE_STATES[Number(part.trim())] : undefined;
      if (name === undefined) {
        throw badInput(
          "state",
          "state: must be a queue state id: 0 queued, 1 started, 2 completed, 3 pending, 4 broken, 5 scheduled, 6 paused",
        );
      }
      return name;
    });
  }
  const failed = get("failed");
  if (failed !== undefined) {
    const value = flag(failed, "failed");
    if (query.states?.length === 1 && query.states[0] === "completed") query.failed = value;
  }
  const from = get("from");
  const to = get("to");
  if (from !== undefined) query.from = bound(from, "from");
  if (to !== undefined) query.to = bound(to, "to");
  if (query.from !== undefined && query.to !== undefined && query.from > query.to) {
    throw badInput("from", "from: must not be after to");
  }
  const search = get("search");
  if (search !== undefined) {
    if (search.length === 0 || search.length > MAX_TEXT) {
      throw badInput("search", `search: must have 1 to ${MAX_TEXT} characters`);
    }
    query.search = search;
  }
  const ids = get("job_ids");
  if (ids !== undefined) {
    const parts = ids.split(",").map((part) => part.trim());
    if (parts.length > MAX_IDS) {
      throw badInput("job_ids", `job_ids: at most ${MAX_IDS} ids`);
    }
    query.ids = parts.map((part) => {
      if (!/^[1-9]\d{0,14}$/.test(part)) {
        throw badInput("job_ids", "job_ids: must be job ids separated by commas, e.g. 12,15");
      }
      return Number(part);
    });
  }
  const client = get("client");
  if (client !== undefined) {
    if (client.length === 0 || client.length > MAX_TEXT) {
      throw badInput("client", `client: must have 1 to ${MAX_TEXT} characters`);
    }
    query.client = client;
  }
  const persist = get("persist");
  if (persist !== undefined) flag(persist, "persist");
  return query;
}

// ---- the first log line of a job (seed-spec 4.16) ---------------------------------

/** All but the last 4 characters starred; a value shorter than 8 is starred whole. */
export function mask(value: string): string {
  return value.length < 8
    ? "*".repeat(value.length)
    : `${"*".repeat(value.length - 4)}${value.slice(-4)}`;
}

/** The `api` line a created job's log starts with: path, masked headers, payload. */
export function requestLog(request: Request): string {
  const headers: Record<string, string> = {};
  request.headers.forEach((value, name) => {
    headers[name] = mask(value);
  });
  const path = new URL(request.url).pathname;
  return JSON.stringify({ path: `${request.method} ${path}`, headers, payload: "job_created" });
}
