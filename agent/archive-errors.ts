/**
 * Why an extraction was stopped. Its own file because both the archive readers and the
 * extract guard throw these, and the guard must not import the readers that drive it.
 */
import { ErrorCode, FleetworkError } from "../src/errors";

/** An archive or entry extraction will not write: unsafe paths or links, too big. */
export class ArchiveRefusedError extends FleetworkError {
  constructor(message: string) {
    super(ErrorCode.InvalidInput, `refused ${message}`);
  }
}

/** The archive library could not read the archive. */
export class CorruptArchiveError extends FleetworkError {
  constructor(cause: unknown) {
    super(ErrorCode.InvalidInput, `corrupted archive: ${messageOf(cause)}`, { cause });
  }
}

export function refusedEntry(name: string, why: string): ArchiveRefusedError {
  return new ArchiveRefusedError(`entry ${JSON.stringify(name)}: ${why}`);
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
