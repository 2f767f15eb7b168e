/**
 * A failed write becomes one refusal whose message names what an operator must fix,
 * whatever the driver (the SQLite error is real; the others are the codes their
 * drivers put on errors).
 */
import { Database } from "bun:sqlite";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { StoreFailure, StoreUnavailableError, UnavailableError } from "../../../src/errors";
import { storeFailureOf, storeUnavailable } from "../../../src/store/store-failure";
import { tempDir } from "../../helpers/engine";

const withCode = (code: string, message = "failed") => Object.assign(new Error(message), { code });

describe("storeUnavailable", () => {
  it("reads SQLite's own error: a write to a read-only database is a disk problem", () => {
    const path = join(tempDir("fw-store-failure-"), "ro.db");
    const db = new Database(path, { create: true });
    db.exec("CREATE TABLE t (x)");
    db.close();
    const readOnly = new Database(path, { readonly: true });
    let thrown: unknown;
    try {
      readOnly.exec("INSERT INTO t VALUES (1)");
    } catch (error) {
      thrown = error;
    } finally {
      readOnly.close();
    }
    expect((thrown as { code?: string }).code).toBe("SQLITE_READONLY");
    expect(storeFailureOf(thrown)).toBe(StoreFailure.Io);
  });

  it.each([
    ["SQLITE_FULL", StoreFailure.OutOfSpace],
    ["ENOSPC", StoreFailure.OutOfSpace],
    ["53100", StoreFailure.OutOfSpace], // PostgreSQL disk_full
    ["SQLITE_IOERR_WRITE", StoreFailure.Io],
    ["EIO", StoreFailure.Io],
    ["58030", StoreFailure.Io], // PostgreSQL io_error
    ["ECONNREFUSED", StoreFailure.Other],
    ["SQLITE_BUSY", StoreFailure.Other],
  ])("%s is %s", (code, failure) => {
    expect(storeFailureOf(withCode(code))).toBe(failure);
  });

  it("says what is wrong and that no new work is taken, keeping the driver's error", () => {
    const cause = withCode("SQLITE_FULL", "database or disk is full");
    const refusal = storeUnavailable(cause);
    expect(refusal).toBeInstanceOf(StoreUnavailableError);
    // Every API family maps UnavailableError to 503.
    expect(refusal).toBeInstanceOf(UnavailableError);
    expect(refusal.failure).toBe(StoreFailure.OutOfSpace);
    expect(refusal.message).toBe(
      "the store is out of space (SQLITE_FULL: database or disk is full); no new work is taken until it can write again",
    );
    expect(refusal.cause).toBe(cause);
  });

  it("names an error without a code plainly", () => {
    expect(storeUnavailable(new Error("connection lost")).message).toBe(
      "the store cannot write (connection lost); no new work is taken until it can write again",
    );
  });
});
