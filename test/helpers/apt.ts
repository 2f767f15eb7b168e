/**
 * Finds a program a test needs, installing its Debian package once when it is missing
 * (tests and CI run as root on a machine that may be fresh).
 */
import { execFile } from "node:child_process";
import { promisify } from "node:util";

const run = promisify(execFile);
const installs = new Map<string, Promise<string>>();

/**
 * `find()` if it finds the program; else `apt-get install -y <pkg>` (with an update
 * first only if that fails) and `find()` again. One install per package per process.
 */
export function findOrInstall(pkg: string, find: () => string | undefined): Promise<string> {
  const found = find();
  if (found !== undefined) return Promise.resolve(found);
  let installing = installs.get(pkg);
  if (!installing) {
    installing = install(pkg).then(() => {
      const after = find();
      if (after === undefined)
        throw new Error(`apt-get installed ${pkg} but its program is missing`);
      return after;
    });
    installs.set(pkg, installing);
  }
  return installing;
}

async function install(pkg: string): Promise<void> {
  // Several test files may install at once; wait for dpkg's lock instead of failing.
  const aptInstall = () =>
    run("apt-get", ["-o", "DPkg::Lock::Timeout=300", "install", "-y", pkg], {
      env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" },
      maxBuffer: 64 * 1024 * 1024,
    });
  try {
    await aptInstall();
  } catch {
    await run("apt-get", ["-o", "DPkg::Lock::Timeout=300", "update"], {
      maxBuffer: 64 * 1024 * 1024,
    });
    await aptInstall();
  }
}
