/**
 * A small real file system for tests that need a full disk: a tmpfs mounted on a
 * fresh temp dir (tests run as root here), filled to the last byte by a filler file
 * and freed again by deleting it.
 */
import { execFileSync } from "node:child_process";
import { closeSync, mkdtempSync, openSync, rmSync, statfsSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface Tmpfs {
  readonly dir: string;
  /** Writes a filler file until the file system says ENOSPC; returns its size. */
  fill(): number;
  /** Deletes the filler file. */
  free(): void;
  /** Bytes still free for an unprivileged writer. */
  available(): number;
  /** Unmounts and removes the mount point. */
  unmount(): void;
}

const FILLER = ".filler";

export function mountTmpfs(sizeMb: number, prefix = "fw-tmpfs-"): Tmpfs {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  execFileSync("mount", ["-t", "tmpfs", "-o", `size=${sizeMb}m`, "tmpfs", dir]);
  const filler = join(dir, FILLER);
  return {
    dir,
    fill() {
      const fd = openSync(filler, "a");
      let written = 0;
      try {
        // Big writes first, then ever smaller ones, so not even a page is left.
        for (let chunk = 1 << 20; chunk >= 1; chunk >>= 2) {
          const buffer = Buffer.alloc(chunk, 0x78);
          for (;;) {
            try {
              written += writeSync(fd, buffer);
            } catch (error) {
              if ((error as NodeJS.ErrnoException).code === "ENOSPC") break;
              throw error;
            }
          }
        }
      } finally {
        closeSync(fd);
      }
      return written;
    },
    free() {
      rmSync(filler, { force: true });
    },
    available() {
      const stats = statfsSync(dir);
      return stats.bavail * stats.bsize;
    },
    unmount() {
      // Lazy: a process that still has a file open there (a killed server's SQLite)
      // must not keep the mount point alive.
      execFileSync("umount", ["-l", dir]);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
