/**
 * The extract guard: the only code that writes into an extraction. It refuses entries
 * that could write or point outside the extraction directory and stops archives that
 * inflate past a size or entry limit.
 */
import { constants } from "node:fs";
import { link, lstat, mkdir, open, readdir, readlink, symlink, unlink } from "node:fs/promises";
import { join } from "node:path";
import type { ReadEntry } from "tar";
import { ArchiveRefusedError, CorruptArchiveError, refusedEntry } from "./archive-errors";
import { isErrno, writeAll } from "./archive-fs";

/** Link hops followed when checking where a symlink lands; the kernel's own limit. */
const MAX_LINK_HOPS = 40;

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
export class ExtractGuard {
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
