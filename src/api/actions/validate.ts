/**
 * Checks a value against a compiled schema and turns the first failure into a
 * XinaError whose message starts with the full field name (`tasks[2].conf.agent`).
 */
import type { Static, TSchema } from "@sinclair/typebox";
import { TypeCompiler, type ValueError } from "@sinclair/typebox/compiler";
import { SUBJECT_TOKEN_PATTERN } from "../../protocol";
import { fieldName } from "../errors";
import { XinaError, XinaErrorCode } from "./errors";

export interface Checker<S extends TSchema> {
  check(value: unknown): value is Static<S>;
  firstError(value: unknown): ValueError | undefined;
}

export function compile<S extends TSchema>(schema: S): Checker<S> {
  const compiled = TypeCompiler.Compile(schema);
  return {
    check: (value): value is Static<S> => compiled.Check(value),
    firstError: (value) => compiled.Errors(value).First(),
  };
}

/** `at` + a TypeBox path: (`tasks[0]`, `/conf/agent`) → `tasks[0].conf.agent`. */
export function joinField(at: string, path: string): string {
  const rest = path === "" ? "" : fieldName(path);
  if (rest === "") return at;
  if (at === "" || rest.startsWith("[")) return `${at}${rest}`;
  return `${at}.${rest}`;
}

/** A short rendering of a refused value for a message. */
export function shown(value: unknown): string {
  let text: string;
  try {
    text = JSON.stringify(value) ?? String(value);
  } catch {
    text = String(value);
  }
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

/**
 * Asserts `value` matches; otherwise throws naming the field. `codeFor` picks the
 * error code from the failing field (CONCLUDE's delay has its own).
 */
export function check<S extends TSchema>(
  checker: Checker<S>,
  value: unknown,
  at: string,
  codeFor: (field: string) => XinaErrorCode = () => XinaErrorCode.InvalidField,
): asserts value is Static<S> {
  if (checker.check(value)) return;
  const error = checker.firstError(value);
  const field = joinField(at, error?.path ?? "") || "body";
  const what = error?.message ?? "is invalid";
  const got =
    error === undefined || error.value === undefined ? "" : ` (got ${shown(error.value)})`;
  throw new XinaError(codeFor(field), `${field}: ${what}${got}`);
}

const THREAD = new RegExp(SUBJECT_TOKEN_PATTERN);

/** Thread names are the engine's lane keys. */
export function checkThread(name: string, field: string): void {
  if (THREAD.test(name)) return;
  throw new XinaError(
    XinaErrorCode.InvalidThread,
    `${field}: ${shown(name)} is not a valid thread name; use 1 to 128 letters, digits, _ or -`,
  );
}

export function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
