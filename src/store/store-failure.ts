/**
 * Turns whatever a store driver throws on a failed write (bun:sqlite's SQLiteError,
 * the postgres driver's PostgresError, a Node system error) into the one error every
 * API family answers with 503: StoreUnavailableError, whose message says what an
 * operator has to fix.
 */
import { StoreFailure, StoreUnavailableError } from "../errors";

/** SQLite result codes (primary or extended, by name) and errnos that mean "no space". */
const OUT_OF_SPACE = new Set(["SQLITE_FULL", "ENOSPC", "EDQUOT", "53100"]);
/** PostgreSQL SQLSTATE class 58 (system error) and 53 (insufficient resources). */
const PG_IO = /^(58|53)/;

function codeOf(error: unknown): string | undefined {
  if (typeof error !== "object" || error === null) return undefined;
  const code = (error as { code?: unknown }).code;
  return typeof code === "string" ? code : undefined;
}

/** What kind of failure `error` is, from its driver's code. */
export function storeFailureOf(error: unknown): StoreFailure {
  const code = codeOf(error);
  if (code === undefined) return StoreFailure.Other;
  if (OUT_OF_SPACE.has(code)) return StoreFailure.OutOfSpace;
  if (
    code.startsWith("SQLITE_IOERR") ||
    code.startsWith("SQLITE_READONLY") ||
    code === "EIO" ||
    code === "EROFS" ||
    PG_IO.test(code)
  ) {
    return StoreFailure.Io;
  }
  return StoreFailure.Other;
}

const WHAT: Record<StoreFailure, string> = {
  [StoreFailure.OutOfSpace]: "the store is out of space",
  [StoreFailure.Io]: "the store cannot write to its disk",
  [StoreFailure.Other]: "the store cannot write",
};

/** The refusal for a write the store failed; keeps the driver's error as `cause`. */
export function storeUnavailable(error: unknown): StoreUnavailableError {
  if (error instanceof StoreUnavailableError) return error;
  const failure = storeFailureOf(error);
  const detail = error instanceof Error ? error.message : String(error);
  const code = codeOf(error);
  return new StoreUnavailableError(
    failure,
    `${WHAT[failure]} (${code ? `${code}: ` : ""}${detail}); no new work is taken until it can write again`,
    { cause: error },
  );
}
