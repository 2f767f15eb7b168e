/**
 * The host's build cache under `<stateDir>/builds`: downloaded archives in `archives/`,
 * their extractions in `extracted/`, and a `tmp/` scratch area on the same file system.
 * Every archive and every extraction is built in the scratch area and put in place with
 * a rename, so a reader never sees half of one and a failure leaves the old one intact.
 *
 * Archives come from elsewhere and are not trusted: extraction refuses anything that
 * could write or point outside its directory, and stops archives that inflate past a
 * size or entry limit (see `extract-guard` section below).
 */
import { createHash, randomBytes } from "node:crypto";
import { constants, createReadStream } from "node:fs";
import {
  type FileHandle,
  link,
  lstat,
  mkdir,
  open,
  readdir,
  readlink,
  rename,
  rm,
  stat,
  symlink,
  unlink,
} from "node:fs/promises";
import { join } from "node:path";
import type { Readable } from "node:stream";
import { fileURLToPath } from "node:url";
import { Parser, type ReadEntry } from "tar";
import { type Entry, getFileNameLowLevel, openPromise as openZip, type ZipFile } from "yauzl";
import { ErrorCode, FleetworkError, InvalidInputError } from "../src/errors";

/** What a build id may look like: it becomes a file name, so nothing that could leave the cache. */
export const BUILD_ID_PATTERN = "^[A-Za-z0-9._-]{1,128}$";
const buildIdPattern = new RegExp(BUILD_ID_PATTERN);

export const ArchiveFormat = { Tar: "tar", TarGz: "tar.gz", Zip: "zip" } as const;
export type ArchiveFormat = (typeof ArchiveFormat)[keyof typeof ArchiveFormat];

/** A download that cannot be completed: HTTP error, size limit, checksum mismatch. */
export class DownloadError extends FleetworkError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(ErrorCode.InvalidInput, message, options);
  }
}

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

export interface DownloadOptions {
  /** http:, https: or file:. */
  readonly url: string;
  /** Hex; checked before the archive enters the cache. */
  readonly sha256?: string;
  readonly maxBytes: number;
  readonly signal?: AbortSignal;
}

export interface DownloadResult {
  readonly path: string;
  readonly bytes: number;
  readonly sha256: string;
}

export interface ExtractOptions {
  /** @default sniffed from the first bytes */
  readonly format?: ArchiveFormat;
  /** Total bytes written, counted as they are written. */
  readonly maxBytes: number;
  readonly maxEntries: number;
  readonly signal?: AbortSignal;
}

export interface ExtractResult {
  readonly path: string;
  readonly format: ArchiveFormat;
  readonly entries: number;
  readonly bytes: number;
}

/** Returns `buildId` if it is safe to use as a file name; throws otherwise. */
export function checkBuildId(buildId: string): string {
  // "." and ".." match the pattern but name the directory itself or its parent.
  if (!buildIdPattern.test(buildId) || buildId === "." || buildId === "..") {
    throw new InvalidInputError(
      `invalid build id ${JSON.stringify(buildId)}: it must match ${BUILD_ID_PATTERN} and not be "." or ".."`,
      "buildId",
    );
  }
  return buildId;
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function isErrno(error: unknown, code: string): boolean {
  return error instanceof Error && (error as NodeJS.ErrnoException).code === code;
}

async function exists(path: string): Promise<boolean> {
  try {
    await lstat(path);
    return true;
  } catch (error) {
    if (isErrno(error, "ENOENT")) return false;
    throw error;
  }
}

/** `write` may write less than asked; loop until the whole chunk is on disk. */
async function writeAll(file: FileHandle, chunk: Uint8Array): Promise<void> {
  let offset = 0;
  while (offset < chunk.byteLength) {
    const { bytesWritten } = await file.write(chunk, offset, chunk.byteLength - offset);
    offset += bytesWritten;
  }
}

export class BuildCache {
  /** `<stateDir>/builds`. */
  readonly root: string;
  private readonly archives: string;
  private readonly extracted: string;
  private readonly scratch: string;

  constructor(stateDir: string) {
    this.root = join(stateDir, "builds");
    this.archives = join(this.root, "archives");
    this.extracted = join(this.root, "extracted");
    // Its own directory: a scratch name can then never be taken for a build id.
    this.scratch = join(this.root, "tmp");
  }

  archivePath(buildId: string): string {
    return join(this.archives, checkBuildId(buildId));
  }

  extractedPath(buildId: string): string {
    return join(this.extracted, checkBuildId(buildId));
  }

  hasArchive(buildId: string): Promise<boolean> {
    return exists(this.archivePath(buildId));
  }

  isExtracted(buildId: string): Promise<boolean> {
    return exists(this.extractedPath(buildId));
  }

  /**
   * Streams the archive into the scratch area, hashing and counting as it goes, and
   * renames it into the cache only when it is complete and its hash matches.
   */
  async download(buildId: string, options: DownloadOptions): Promise<DownloadResult> {
    const target = this.archivePath(buildId);
    const url = new URL(options.url);
    const expected = options.sha256?.toLowerCase();
    const temp = await this.scratchPath(`${buildId}.download`);
    const file = await open(temp, "wx");
    let fileOpen = true;
    try {
      const hash = createHash("sha256");
      let bytes = 0;
      for await (const chunk of readSource(url, options.maxBytes, options.signal)) {
        bytes += chunk.byteLength;
        if (bytes > options.maxBytes) throw tooLarge(options.maxBytes);
        hash.update(chunk);
        await writeAll(file, chunk);
      }
      // On disk before the rename makes it visible, so a crash cannot leave a short archive.
      await file.sync();
      fileOpen = false;
      await file.close();
      const actual = hash.digest("hex");
      if (expected !== undefined && actual !== expected) {
        throw new DownloadError(`sha256 mismatch: expected ${expected}, got ${actual}`);
      }
      await this.installArchive(buildId, temp);
      return { path: target, bytes, sha256: actual };
    } catch (error) {
      if (fileOpen) await file.close().catch(() => {});
      await rm(temp, { force: true });
      throw error;
    }
  }

  /**
   * Extracts the cached archive into a fresh scratch directory, checks it, and swaps it
   * in for any earlier extraction of the build. On any failure the scratch directory is
   * removed and the earlier extraction stays as it was.
   */
  async extract(buildId: string, options: ExtractOptions): Promise<ExtractResult> {
    const archive = this.archivePath(buildId);
    if (!(await this.hasArchive(buildId))) {
      throw new InvalidInputError(`build ${buildId} is not downloaded`, "buildId");
    }
    const format = options.format ?? (await sniffFormat(archive));
    const dir = await this.scratchPath(`${buildId}.extract`);
    await mkdir(dir, { mode: 0o755 });
    try {
      const guard = new ExtractGuard(dir, options.maxBytes, options.maxEntries);
      if (format === ArchiveFormat.Zip) await readZip(archive, guard, options.signal);
      else await readTar(archive, format, guard, options.signal);
      options.signal?.throwIfAborted();
      await guard.checkSymlinks();
      await this.installExtraction(buildId, dir);
      return {
        path: this.extractedPath(buildId),
        format,
        entries: guard.entries,
        bytes: guard.bytes,
      };
    } catch (error) {
      await rm(dir, { recursive: true, force: true });
      throw error;
    }
  }

  /**
   * A fresh, unused path in the scratch area (nothing is created there). It is on the
   * cache's file system, so renaming it into place is atomic.
   */
  async scratchPath(label: string): Promise<string> {
    await mkdir(this.scratch, { recursive: true });
    return join(this.scratch, `${label}.${process.pid}.${randomBytes(6).toString("hex")}`);
  }

  /** Moves a complete archive from the scratch area into the cache, replacing any older copy. */
  async installArchive(buildId: string, file: string): Promise<void> {
    const target = this.archivePath(buildId);
    await mkdir(this.archives, { recursive: true });
    await rename(file, target);
  }

  /**
   * Moves a complete extraction from the scratch area into the cache. A directory cannot
   * be renamed over a non-empty one, so an older extraction is first moved aside and put
   * back if the swap fails; it is deleted only once the new one is in place.
   */
  async installExtraction(buildId: string, dir: string): Promise<void> {
    const target = this.extractedPath(buildId);
    await mkdir(this.extracted, { recursive: true });
    const aside = await this.scratchPath(`${buildId}.previous`);
    let movedAside = false;
    try {
      await rename(target, aside);
      movedAside = true;
    } catch (error) {
      if (!isErrno(error, "ENOENT")) throw error;
    }
    try {
      await rename(dir, target);
    } catch (error) {
      if (movedAside) await rename(aside, target).catch(() => {});
      throw error;
    }
    if (movedAside) await rm(aside, { recursive: true, force: true });
  }
}

// --- download sources ---

function tooLarge(maxBytes: number): DownloadError {
  return new DownloadError(`the archive is larger than the limit of ${maxBytes} bytes`);
}

/** The URL without its query, which may carry a signature that should not reach logs. */
function shownUrl(url: URL): string {
  return `${url.origin}${url.pathname}`;
}

async function* readSource(
  url: URL,
  maxBytes: number,
  signal: AbortSignal | undefined,
): AsyncGenerator<Uint8Array> {
  if (url.protocol === "file:") {
    const path = fileURLToPath(url);
    const info = await stat(path);
    if (!info.isFile()) throw new DownloadError(`${path} is not a file`);
    if (info.size > maxBytes) throw tooLarge(maxBytes);
    const stream = createReadStream(path);
    const onAbort = () => stream.destroy(new Error("cancelled"));
    signal?.addEventListener("abort", onAbort, { once: true });
    try {
      signal?.throwIfAborted();
      for await (const chunk of stream) yield chunk as Buffer;
    } finally {
      signal?.removeEventListener("abort", onAbort);
      stream.destroy();
    }
    return;
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new InvalidInputError(`unsupported URL scheme ${url.protocol}`, "url");
  }
  const response = await fetch(url, { signal, redirect: "follow" });
  if (!response.ok) {
    await response.body?.cancel().catch(() => {});
    throw new DownloadError(
      `HTTP ${response.status} ${response.statusText} from ${shownUrl(url)}`.trim(),
    );
  }
  // Refuse early when the server says it is too big; the byte count still decides.
  const declared = Number(response.headers.get("content-length") ?? "0");
  if (declared > maxBytes) {
    await response.body?.cancel().catch(() => {});
    throw tooLarge(maxBytes);
  }
  if (!response.body) return;
  for await (const chunk of response.body) yield chunk;
}

// --- extraction ---

async function sniffFormat(path: string): Promise<ArchiveFormat> {
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

// --- extract-guard: the only code that writes into an extraction ---

/** Link hops followed when checking where a symlink lands; the kernel's own limit. */
const MAX_LINK_HOPS = 40;

function refusedEntry(name: string, why: string): ArchiveRefusedError {
  return new ArchiveRefusedError(`entry ${JSON.stringify(name)}: ${why}`);
}

/**
 * An entry name as path components inside the extraction directory. `..` is allowed
 * only where it stays inside (`a/../b` is `b`).
 */
function insidePath(name: string): string[] {
  if (name.includes("\0")) throw refusedEntry(name, "has a NUL byte in its path");
  if (name.startsWith("/") || /^[A-Za-z]:/.test(name)) throw refusedEntry(name, "absolute path");
  const parts: string[] = [];
  for (const part of name.split("/")) {
    if (part === "" || part === ".") continue;
    if (part === "..") {
      if (parts.length === 0) throw refusedEntry(name, "path escapes the extraction directory");
      parts.pop();
    } else {
      parts.push(part);
    }
  }
  return parts;
}

/** Whether `target`, read lexically from directory `dir`, stays inside. */
function staysInside(dir: readonly string[], target: string): boolean {
  if (target.startsWith("/")) return false;
  let depth = dir.length;
  for (const part of target.split("/")) {
    if (part === "" || part === ".") continue;
    depth += part === ".." ? -1 : 1;
    if (depth < 0) return false;
  }
  return true;
}

/**
 * Writes entries into one extraction directory and nowhere else. Every parent directory
 * it writes through is a real directory (made here, or found and checked not to be a
 * symlink), and the last component is always created fresh (O_EXCL, O_NOFOLLOW), so no
 * write follows a link. Links themselves may point anywhere while extracting, but
 * `checkSymlinks` resolves every one of them before the extraction is accepted.
 */
class ExtractGuard {
  entries = 0;
  bytes = 0;
  private stopped = false;
  /** Directories known to be real, as "a/b" keys; "" is the root. */
  private readonly realDirs = new Set<string>([""]);

  constructor(
    private readonly root: string,
    private readonly maxBytes: number,
    private readonly maxEntries: number,
  ) {}

  /** After a failure: no further data is written. */
  stop(): void {
    this.stopped = true;
  }

  /** A count known up front (zip): refuse before writing anything. */
  expectEntries(count: number): void {
    if (count > this.maxEntries) throw this.tooManyEntries();
  }

  /** Counts one entry and returns its path components inside the root. */
  admit(name: string): string[] {
    this.entries += 1;
    if (this.entries > this.maxEntries) throw this.tooManyEntries();
    return insidePath(name);
  }

  async tarEntry(entry: ReadEntry): Promise<void> {
    const parts = this.admit(entry.path);
    switch (entry.type) {
      case "Directory":
      case "GNUDumpDir":
        await this.directory(parts, entry.mode);
        entry.resume();
        return;
      case "File":
      case "OldFile":
      case "ContiguousFile":
        await this.file(parts, entry.mode, entry, entry.size);
        return;
      case "SymbolicLink":
        await this.symlink(parts, entry.linkpath ?? "");
        entry.resume();
        return;
      case "Link":
        await this.hardlink(parts, entry.linkpath ?? "");
        entry.resume();
        return;
      default:
        throw refusedEntry(entry.path, `${entry.type} entries are not allowed`);
    }
  }

  async directory(parts: readonly string[], mode: number | undefined): Promise<void> {
    // Always writable by us, or the entries inside it could not be written.
    // No mode (or a DOS zip's 0) means the usual one.
    await this.realDir(parts, parts.length, ((mode || 0o755) & 0o777) | 0o700);
  }

  async file(
    parts: readonly string[],
    mode: number | undefined,
    data: AsyncIterable<Uint8Array>,
    declaredSize: number,
  ): Promise<void> {
    const name = parts.join("/");
    if (parts.length === 0) throw refusedEntry(name, "is not a file name");
    // The declared size refuses a bomb early; the count below is what holds.
    if (this.bytes + declaredSize > this.maxBytes) throw this.tooLarge();
    const path = await this.freshPath(parts);
    // Permission bits only: no setuid, setgid or sticky bits from an archive.
    const fileMode = (mode ?? 0) & 0o777 || 0o644;
    const file = await open(
      path,
      constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW,
      fileMode,
    );
    try {
      const chunks = data[Symbol.asyncIterator]();
      for (;;) {
        if (this.stopped) throw new Error("extraction stopped");
        let next: IteratorResult<Uint8Array>;
        try {
          next = await chunks.next();
        } catch (error) {
          throw this.stopped ? new Error("extraction stopped") : new CorruptArchiveError(error);
        }
        if (next.done) break;
        this.bytes += next.value.byteLength;
        if (this.bytes > this.maxBytes) throw this.tooLarge();
        await writeAll(file, next.value);
      }
    } finally {
      await file.close();
    }
  }

  async symlink(parts: readonly string[], target: string): Promise<void> {
    const name = parts.join("/");
    if (parts.length === 0) throw refusedEntry(name, "is not a file name");
    if (target === "" || target.includes("\0"))
      throw refusedEntry(name, "has no usable link target");
    if (!staysInside(parts.slice(0, -1), target)) {
      throw refusedEntry(
        name,
        `symlink to ${JSON.stringify(target)} resolves outside the extraction directory`,
      );
    }
    await symlink(target, await this.freshPath(parts));
  }

  async hardlink(parts: readonly string[], target: string): Promise<void> {
    const name = parts.join("/");
    const outside = () =>
      refusedEntry(
        name,
        `hardlink to ${JSON.stringify(target)} resolves outside the extraction directory`,
      );
    let source: string[];
    try {
      source = insidePath(target);
    } catch {
      throw outside();
    }
    if (source.length === 0 || parts.length === 0) throw outside();
    await this.checkRealDirs(name, source, source.length - 1);
    const sourcePath = join(this.root, ...source);
    let info: Awaited<ReturnType<typeof lstat>>;
    try {
      info = await lstat(sourcePath);
    } catch (error) {
      if (isErrno(error, "ENOENT")) {
        throw refusedEntry(name, `hardlink to ${JSON.stringify(target)}, which is not extracted`);
      }
      throw error;
    }
    if (info.isDirectory()) throw refusedEntry(name, "hardlink to a directory");
    await link(sourcePath, await this.freshPath(parts));
  }

  /**
   * Resolves every symlink in the finished tree, following links it passes through,
   * and refuses the extraction if any lands outside. Done at the end because a later
   * entry can change where an earlier link leads.
   */
  async checkSymlinks(): Promise<void> {
    const pending: string[][] = [[]];
    for (let dir = pending.pop(); dir !== undefined; dir = pending.pop()) {
      for (const item of await readdir(join(this.root, ...dir), { withFileTypes: true })) {
        const parts = [...dir, item.name];
        if (item.isDirectory()) {
          pending.push(parts);
        } else if (item.isSymbolicLink()) {
          const target = await readlink(join(this.root, ...parts));
          if (!(await this.landsInside(dir, target))) {
            throw refusedEntry(
              parts.join("/"),
              `symlink to ${JSON.stringify(target)} resolves outside the extraction directory`,
            );
          }
        }
      }
    }
  }

  private async landsInside(dir: readonly string[], target: string): Promise<boolean> {
    if (target.startsWith("/")) return false;
    const at = [...dir];
    const todo = target.split("/").reverse();
    let hops = 0;
    for (let part = todo.pop(); part !== undefined; part = todo.pop()) {
      if (part === "" || part === ".") continue;
      if (part === "..") {
        if (at.length === 0) return false;
        at.pop();
        continue;
      }
      at.push(part);
      const path = join(this.root, ...at);
      let isLink: boolean;
      try {
        isLink = (await lstat(path)).isSymbolicLink();
      } catch {
        // Nothing there: nothing to follow, the rest is read as written.
        continue;
      }
      if (!isLink) continue;
      hops += 1;
      if (hops > MAX_LINK_HOPS) return false;
      const next = await readlink(path);
      if (next.startsWith("/")) return false;
      at.pop();
      todo.push(...next.split("/").reverse());
    }
    return true;
  }

  /**
   * Makes the parents of `parts` real directories and clears whatever an earlier entry
   * left at `parts` (a later entry replaces an earlier one, as tar does; never a
   * directory). Returns the absolute path, free to be created.
   */
  private async freshPath(parts: readonly string[]): Promise<string> {
    await this.realDir(parts, parts.length - 1, 0o755);
    const path = join(this.root, ...parts);
    let info: Awaited<ReturnType<typeof lstat>>;
    try {
      info = await lstat(path);
    } catch (error) {
      if (isErrno(error, "ENOENT")) return path;
      throw error;
    }
    if (info.isDirectory()) throw refusedEntry(parts.join("/"), "would replace a directory");
    await unlink(path);
    return path;
  }

  /** Makes `parts[0..count)` real directories, the last one with `mode`. */
  private async realDir(parts: readonly string[], count: number, mode: number): Promise<void> {
    for (let i = 1; i <= count; i++) {
      const key = parts.slice(0, i).join("/");
      if (this.realDirs.has(key)) continue;
      const path = join(this.root, ...parts.slice(0, i));
      try {
        await mkdir(path, { mode: i === count ? mode : 0o755 });
      } catch (error) {
        if (!isErrno(error, "EEXIST")) throw error;
        const info = await lstat(path);
        if (!info.isDirectory()) {
          const what = info.isSymbolicLink() ? "a symlink" : "a file";
          throw refusedEntry(parts.join("/"), `goes through ${what} at ${JSON.stringify(key)}`);
        }
      }
      this.realDirs.add(key);
    }
  }

  /** Checks, without creating anything, that `parts[0..count)` are real directories. */
  private async checkRealDirs(name: string, parts: readonly string[], count: number) {
    for (let i = 1; i <= count; i++) {
      const key = parts.slice(0, i).join("/");
      if (this.realDirs.has(key)) continue;
      let info: Awaited<ReturnType<typeof lstat>> | undefined;
      try {
        info = await lstat(join(this.root, ...parts.slice(0, i)));
      } catch {
        info = undefined;
      }
      if (!info?.isDirectory()) {
        throw refusedEntry(
          name,
          `link source goes through a non-directory at ${JSON.stringify(key)}`,
        );
      }
      this.realDirs.add(key);
    }
  }

  private tooLarge(): ArchiveRefusedError {
    return new ArchiveRefusedError(`archive: more than ${this.maxBytes} bytes uncompressed`);
  }

  private tooManyEntries(): ArchiveRefusedError {
    return new ArchiveRefusedError(`archive: more than ${this.maxEntries} entries`);
  }
}
