/**
 * What an error answer of each API family looks like (README and seed-spec), checked
 * from the outside: the family is told by the path, as the app does it, and the body
 * must be exactly that family's error shape.
 */
import { ApiFamily, familyOf } from "../../src/api/families";

type Json = Record<string, unknown>;

const isObject = (value: unknown): value is Json =>
  typeof value === "object" && value !== null && !Array.isArray(value);

const hasOnly = (value: Json, allowed: readonly string[]) =>
  Object.keys(value).every((key) => allowed.includes(key));

/** `{error: {code, message, field?, accepts?}}` */
function native(body: unknown): boolean {
  if (!isObject(body) || !hasOnly(body, ["error"]) || !isObject(body.error)) return false;
  const error = body.error;
  return (
    hasOnly(error, ["code", "message", "field", "accepts"]) &&
    typeof error.code === "string" &&
    typeof error.message === "string" &&
    (error.field === undefined || typeof error.field === "string") &&
    (error.accepts === undefined ||
      (Array.isArray(error.accepts) && error.accepts.every((a) => typeof a === "string")))
  );
}

/** `{error: {code, message}}` */
function xina(body: unknown): boolean {
  return (
    isObject(body) &&
    hasOnly(body, ["error"]) &&
    isObject(body.error) &&
    hasOnly(body.error, ["code", "message"]) &&
    typeof body.error.code === "string" &&
    typeof body.error.message === "string"
  );
}

/** `{error: {message}}` */
function executor(body: unknown): boolean {
  return (
    isObject(body) &&
    hasOnly(body, ["error"]) &&
    isObject(body.error) &&
    hasOnly(body.error, ["message"]) &&
    typeof body.error.message === "string"
  );
}

/** `{errorCode, errorMessage, errors: [{property, message}]}` */
function hostTask(body: unknown): boolean {
  return (
    isObject(body) &&
    hasOnly(body, ["errorCode", "errorMessage", "errors"]) &&
    Number.isInteger(body.errorCode) &&
    typeof body.errorMessage === "string" &&
    Array.isArray(body.errors) &&
    body.errors.every(
      (e) =>
        isObject(e) &&
        hasOnly(e, ["property", "message"]) &&
        typeof e.property === "string" &&
        typeof e.message === "string",
    )
  );
}

/** `{error}`, or `{id, error}` for POST /job and PUT /jobs/{id} */
function jobs(body: unknown): boolean {
  if (!isObject(body) || typeof body.error !== "string") return false;
  return (
    hasOnly(body, ["error"]) ||
    (hasOnly(body, ["id", "error"]) && (body.id === null || Number.isInteger(body.id)))
  );
}

/** `{error: "<message>"}` */
function periodic(body: unknown): boolean {
  return isObject(body) && hasOnly(body, ["error"]) && typeof body.error === "string";
}

const SHAPES: Record<ApiFamily, (body: unknown) => boolean> = {
  [ApiFamily.Native]: native,
  [ApiFamily.Xina]: xina,
  [ApiFamily.Executor]: executor,
  [ApiFamily.HostTask]: hostTask,
  [ApiFamily.Jobs]: jobs,
  [ApiFamily.Periodic]: periodic,
};

/** Whether `text` (an error answer's body) is JSON in the shape of `url`'s family. */
export function hasFamilyShape(url: string, text: string): { family: ApiFamily; ok: boolean } {
  const family = familyOf(url);
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    return { family, ok: false };
  }
  return { family, ok: SHAPES[family](body) };
}
