/**
 * Reads a tar, tar.gz or zip archive into a directory, one entry at a time through the
 * extract guard (see `archive-guard.ts`), which decides what may be written. Archives
 * come from elsewhere and are not trusted.
 */
import { createReadStream } from "node:fs";
import { open } from "node:fs/promises";
import type { Readable } from "node:stream";
import { Parser, type ReadEntry } from "tar";
import { type Entry, getFileNameLowLevel, openPromise as openZip, type ZipFile } from "yauzl";
import { ArchiveRefusedError, CorruptArchiveError, refusedEntry } from "./archive-errors";
import { ExtractGuard } from "./archive-guard";

export const ArchiveFormat = { Tar: "tar", TarGz: "tar.gz", Zip: "zip" } as const;
export type ArchiveFormat = (typeof ArchiveFormat)[keyof typeof ArchiveFormat];

export interface ExtractLimits {
  /** Total bytes written, counted as they are written. */
  readonly maxBytes: number;
  readonly maxEntries: number;
  readonly signal?: AbortSignal;
}

export interface ExtractCounts {
  readonly entries: number;
  readonly bytes: number;
}

/**
 * Extracts `archive` into the existing, empty directory `dir` and resolves every symlink
 * in the result. On failure `dir` may hold part of the archive; the caller removes it.
 */
export async function extractArchive(
  archive: string,
  format: ArchiveFormat,
  dir: string,
  limits: ExtractLimits,
): Promise<ExtractCounts> {
  const guard = new ExtractGuard(dir, limits.maxBytes, limits.maxEntries);
  if (format === ArchiveFormat.Zip) await readZip(archive, guard, limits.signal);
  else await readTar(archive, format, guard, limits.signal);
  limits.signal?.throwIfAborted();
  await guard.checkSymlinks();
  return { entries: guard.entries, bytes: guard.bytes };
}

export async function sniffFormat(path: string): Promise<ArchiveFormat> {
  const file = await open(path, "r");
  try {
    const head = Buffer.alloc(4);
    const { bytesRead } = await file.read(head, 0, 4, 0);
    if (bytesRead >= 2 && head[0] === 0x1f && head[1] === 0x8b) return ArchiveFormat.TarGz;
    if (bytesRead === 4 && head.equals(Buffer.from([0x50, 0x4b, 0x03, 0x04]))) {
      return ArchiveFormat.Zip;
    }
    return ArchiveFormat.Tar;
  } finally {
    await file.close();
  }
}

/**
 * Feeds the archive to node-tar's parser and hands each entry to the guard, one at a
 * time (the parser waits for an entry's data to be consumed before it reads on). The
 * first failure, from the parser, the guard or a cancel, stops everything.
 */
async function readTar(
  archive: string,
  format: ArchiveFormat,
  guard: ExtractGuard,
  signal: AbortSignal | undefined,
): Promise<void> {
  if (format === ArchiveFormat.TarGz && (await sniffFormat(archive)) !== ArchiveFormat.TarGz) {
    throw new CorruptArchiveError("not gzip data");
  }
  // strict: a damaged header is an error, not a warning and a skipped entry.
  const parser = new Parser({ strict: true });
  let failure: Error | undefined;
  let ended = false;
  let current: ReadEntry | undefined;
  let work: Promise<void> = Promise.resolve();
  let wake = () => {};

  const fail = (error: Error) => {
    if (failure) return;
    failure = error;
    guard.stop();
    // Unblocks the guard if it is waiting for this entry's data.
    current?.destroy();
    parser.abort(error);
    wake();
  };
  parser.on("error", (error: Error) => fail(failure ?? tarError(error)));
  parser.on("end", () => {
    ended = true;
    wake();
  });
  parser.on("drain", () => wake());
  parser.on("entry", (entry: ReadEntry) => {
    work = work
      .then(async () => {
        if (failure) return void entry.resume();
        current = entry;
        await guard.tarEntry(entry);
        current = undefined;
      })
      .catch((error: unknown) => fail(error instanceof Error ? error : new Error(String(error))));
  });
  const onAbort = () => fail(new Error("cancelled"));
  signal?.addEventListener("abort", onAbort, { once: true });
  // A listener added after the abort never hears it.
  if (signal?.aborted) onAbort();

  const waitFor = (done: () => boolean) =>
    new Promise<void>((resolve) => {
      wake = resolve;
      if (failure || done()) resolve();
    });
  // Small reads: a gzip chunk can inflate a thousandfold before the guard sees it.
  const input = createReadStream(archive, { highWaterMark: 16 * 1024 });
  try {
    for await (const chunk of input) {
      if (failure) break;
      if (!parser.write(chunk as Buffer)) await waitFor(() => false);
      if (failure) break;
    }
    if (!failure) {
      parser.end();
      await waitFor(() => ended);
    }
    await work;
  } catch (error) {
    fail(error instanceof Error ? error : new Error(String(error)));
    await work;
  } finally {
    signal?.removeEventListener("abort", onAbort);
    input.destroy();
  }
  if (failure) throw failure;
}

function tarError(error: Error): Error {
  // node-tar's own guard against gzip bombs.
  if (/decompression ratio/.test(error.message)) {
    return new ArchiveRefusedError(`archive: ${error.message}`);
  }
  return new CorruptArchiveError(error);
}

/** Unix file type bits in a zip entry's external attributes (when made on Unix). */
const S_IFMT = 0o170000;
const S_IFDIR = 0o040000;
const S_IFREG = 0o100000;
const S_IFLNK = 0o120000;
/** A zip symlink's target is its data; longer than this is not a path. */
const MAX_LINK_TARGET_BYTES = 4096;

async function readZip(
  archive: string,
  guard: ExtractGuard,
  signal: AbortSignal | undefined,
): Promise<void> {
  let zip: ZipFile;
  try {
    // decodeStrings off: names are decoded and checked here, so an unsafe name is
    // refused as such rather than reported as a broken archive.
    zip = await openZip(archive, { decodeStrings: false, validateEntrySizes: true });
  } catch (error) {
    throw new CorruptArchiveError(error);
  }
  try {
    guard.expectEntries(zip.entryCount);
    const entries = zip.eachEntry();
    for (;;) {
      signal?.throwIfAborted();
      let next: IteratorResult<Entry>;
      try {
        next = await entries.next();
      } catch (error) {
        throw new CorruptArchiveError(error);
      }
      if (next.done) break;
      const entry = next.value;
      const name = getFileNameLowLevel(
        entry.generalPurposeBitFlag,
        entry.fileNameRaw,
        entry.extraFields,
        false,
      );
      const parts = guard.admit(name);
      // Only archives made on Unix (host 3) carry a mode in the high bits.
      const mode = entry.versionMadeBy >>> 8 === 3 ? entry.externalFileAttributes >>> 16 : 0;
      const kind = mode & S_IFMT;
      if (kind === S_IFDIR || (kind === 0 && name.endsWith("/"))) {
        await guard.directory(parts, mode);
        continue;
      }
      if (kind !== 0 && kind !== S_IFREG && kind !== S_IFLNK) {
        throw refusedEntry(name, `is a ${describeKind(kind)}`);
      }
      let stream: Readable;
      try {
        stream = await zip.openReadStreamPromise(entry, {});
      } catch (error) {
        throw new CorruptArchiveError(error);
      }
      // A zip whose headers understate an entry's size makes yauzl's byte counter fail
      // the stream; the reader below gets that error, but the stream emits it again
      // after the reader has stopped listening, and an 'error' nobody listens to would
      // end the agent. The reader still sees every error: this listener only keeps the
      // repeat from becoming an uncaught exception.
      stream.on("error", () => {});
      const onAbort = () => stream.destroy(new Error("cancelled"));
      signal?.addEventListener("abort", onAbort, { once: true });
      try {
        if (kind === S_IFLNK) await guard.symlink(parts, await readLinkTarget(name, stream));
        else await guard.file(parts, mode, stream, entry.uncompressedSize);
      } finally {
        signal?.removeEventListener("abort", onAbort);
        stream.destroy();
      }
    }
  } finally {
    zip.close();
  }
}

function describeKind(kind: number): string {
  switch (kind) {
    case 0o020000:
      return "character device";
    case 0o060000:
      return "block device";
    case 0o010000:
      return "fifo";
    case 0o140000:
      return "socket";
    default:
      return `file of type ${kind.toString(8)}`;
  }
}

async function readLinkTarget(name: string, stream: Readable): Promise<string> {
  const chunks: Buffer[] = [];
  let length = 0;
  try {
    for await (const chunk of stream) {
      length += (chunk as Buffer).length;
      if (length > MAX_LINK_TARGET_BYTES)
        throw refusedEntry(name, "has an overlong symlink target");
      chunks.push(chunk as Buffer);
    }
  } catch (error) {
    if (error instanceof ArchiveRefusedError) throw error;
    throw new CorruptArchiveError(error);
  }
  return Buffer.concat(chunks).toString("utf8");
}
