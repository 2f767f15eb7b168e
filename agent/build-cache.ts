/**
 * The host's build cache under `<stateDir>/builds`: downloaded archives in `archives/`,
 * their extractions in `extracted/`, and a `tmp/` scratch area on the same file system.
 * Every archive and every extraction is built in the scratch area and put in place with
 * a rename, so a reader never sees half of one and a failure leaves the old one intact.
 *
 * Archives come from elsewhere and are not trusted: extraction refuses anything that
 * could write or point outside its directory, and stops archives that inflate past a
 * size or entry limit (see `archive-guard.ts`).
 */
import { createHash, randomBytes } from "node:crypto";
import { createReadStream } from "node:fs";
import { lstat, mkdir, open, rename, rm, stat } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { ErrorCode, FleetworkError, InvalidInputError } from "../src/errors";
import { ArchiveFormat, type ExtractLimits, extractArchive, sniffFormat } from "./archive-extract";
import { isErrno, writeAll } from "./archive-fs";

export { ArchiveRefusedError, CorruptArchiveError } from "./archive-errors";
export { ArchiveFormat };

/** What a build id may look like: it becomes a file name, so nothing that could leave the cache. */
export const BUILD_ID_PATTERN = "^[A-Za-z0-9._-]{1,128}$";
const buildIdPattern = new RegExp(BUILD_ID_PATTERN);

/** A download that cannot be completed: HTTP error, size limit, checksum mismatch. */
export class DownloadError extends FleetworkError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(ErrorCode.InvalidInput, message, options);
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

export interface ExtractOptions extends ExtractLimits {
  /** @default sniffed from the first bytes */
  readonly format?: ArchiveFormat;
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

async function exists(path: string): Promise<boolean> {
  try {
    await lstat(path);
    return true;
  } catch (error) {
    if (isErrno(error, "ENOENT")) return false;
    throw error;
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
      const { entries, bytes } = await extractArchive(archive, format, dir, options);
      await this.installExtraction(buildId, dir);
      return {
        path: this.extractedPath(buildId),
        format,
        entries,
        bytes,
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
