/**
 * File-system helpers shared by the build cache and the extract guard. Its own file so
 * the guard need not import the cache, which imports the guard's extraction.
 */
import type { FileHandle } from "node:fs/promises";

export function isErrno(error: unknown, code: string): boolean {
  return error instanceof Error && (error as NodeJS.ErrnoException).code === code;
}

/** `write` may write less than asked; loop until the whole chunk is on disk. */
export async function writeAll(file: FileHandle, chunk: Uint8Array): Promise<void> {
  let offset = 0;
  while (offset < chunk.byteLength) {
    const { bytesWritten } = await file.write(chunk, offset, chunk.byteLength - offset);
    offset += bytesWritten;
  }
}
