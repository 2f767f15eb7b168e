/**
 * The five application-instance actions against real things: archives built at test
 * time (node-tar, yazl, and hand-made tar headers for the hostile ones), a loopback
 * HTTP server, real files in a temp dir per test, and real instance processes that
 * are all killed after each test.
 */
import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import {
  chmod,
  mkdir,
  mkdtemp,
  readdir,
  readFile,
  readlink,
  rm,
  stat,
  symlink,
  writeFile,
} from "node:fs/promises";
import { createServer as createHttpServer, type Server, type ServerResponse } from "node:http";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { pathToFileURL } from "node:url";
import { gzipSync } from "node:zlib";
import { TypeCompiler } from "@sinclair/typebox/compiler";
import { create as createTar, Header } from "tar";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { ZipFile as ZipWriter } from "yazl";
import type { ActionHandler } from "../../../agent/actions/action";
import { instanceActions } from "../../../agent/actions/instance-actions";
import { BuildCache } from "../../../agent/build-cache";
import {
  type InstanceConfig,
  type InstanceExitListener,
  Instances,
} from "../../../agent/instances";
import type { ActionOutcome } from "../../../src/protocol";

// --- helpers -------------------------------------------------------------------------

/** Checks `probe` until it returns a value, within `timeoutMs`; a wait for a state. */
async function waitFor<T>(
  what: string,
  probe: () => Promise<T | undefined> | T | undefined,
  timeoutMs = 10_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

function sha256(data: Buffer): string {
  return createHash("sha256").update(data).digest("hex");
}

async function tarOf(dir: string, gzip: boolean): Promise<Buffer> {
  const file = join(dir, "..", `${Math.random().toString(36).slice(2)}.tar`);
  await createTar({ file, cwd: dir, gzip, portable: true }, ["."]);
  const data = await readFile(file);
  await rm(file);
  return data;
}

interface RawEntry {
  path: string;
  type?: "File" | "Directory" | "SymbolicLink" | "Link" | "CharacterDevice" | "FIFO";
  linkpath?: string;
  body?: Buffer;
}

/** A tar made header by header, for entries no well-behaved packer would write. */
function rawTar(entries: readonly RawEntry[]): Buffer {
  const blocks: Buffer[] = [];
  for (const entry of entries) {
    const body = entry.body ?? Buffer.alloc(0);
    const header = new Header({
      path: entry.path,
      type: entry.type ?? "File",
      linkpath: entry.linkpath,
      size: body.length,
      mode: entry.type === "Directory" ? 0o755 : 0o644,
      mtime: new Date(0),
      uid: 0,
      gid: 0,
    });
    const block = Buffer.alloc(512);
    header.encode(block, 0);
    blocks.push(block, body, Buffer.alloc((512 - (body.length % 512)) % 512));
  }
  blocks.push(Buffer.alloc(1024));
  return Buffer.concat(blocks);
}

interface ZipItem {
  path: string;
  data?: Buffer;
  mode?: number;
  directory?: boolean;
}

function zipOf(items: readonly ZipItem[]): Promise<Buffer> {
  const zip = new ZipWriter();
  for (const item of items) {
    if (item.directory) zip.addEmptyDirectory(item.path);
    else zip.addBuffer(item.data ?? Buffer.alloc(0), item.path, { mode: item.mode ?? 0o100644 });
  }
  zip.end();
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    zip.outputStream.on("data", (chunk: Buffer) => chunks.push(chunk));
    zip.outputStream.on("end", () => resolve(Buffer.concat(chunks)));
    zip.outputStream.on("error", reject);
  });
}

/**
 * yazl will not write an unsafe name, so write a same-length stand-in and swap the
 * bytes in both the local and the central header (names are not covered by the CRC).
 */
function renameInZip(zip: Buffer, from: string, to: string): Buffer {
  expect(from.length).toBe(to.length);
  return Buffer.from(zip.toString("latin1").replaceAll(from, to), "latin1");
}

/**
 * Rewrites every entry's uncompressed size, in the local and the central header, to
 * `size`: a zip that lies about how big it inflates.
 */
function understateZip(zip: Buffer, size: number): Buffer {
  const out = Buffer.from(zip);
  for (let at = 0; at + 4 <= out.length; at++) {
    const signature = out.readUInt32LE(at);
    if (signature === 0x04034b50) out.writeUInt32LE(size, at + 22);
    if (signature === 0x02014b50) out.writeUInt32LE(size, at + 24);
  }
  return out;
}

/** A build with a TCP server that greets with its VERSION, plus odds and ends. */
async function writeBuild(dir: string, version: string): Promise<void> {
  await mkdir(join(dir, "data"), { recursive: true });
  await writeFile(join(dir, "VERSION"), version);
  await writeFile(join(dir, "data", "hello.txt"), `hello from ${version}\n`);
  await writeFile(
    join(dir, "server.mjs"),
    [
      'import { readFileSync } from "node:fs";',
      'import { createServer } from "node:net";',
      'const version = readFileSync("VERSION", "utf8").trim();',
      'const server = createServer((socket) => socket.end("hello from " + version + "\\n"));',
      'process.on("SIGTERM", () => { console.log("stopping " + version); process.exit(0); });',
      'server.listen(0, "127.0.0.1", () =>',
      '  console.log("listening " + version + " on " + server.address().port));',
    ].join("\n"),
  );
  await writeFile(join(dir, "run.sh"), '#!/bin/sh\nexec "$RUNTIME" server.mjs\n');
  await chmod(join(dir, "run.sh"), 0o755);
  await symlink("data/hello.txt", join(dir, "hello-link"));
}

function greeting(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = "";
    const socket = connect(port, "127.0.0.1");
    socket.setEncoding("utf8");
    socket.on("data", (chunk: string) => {
      text += chunk;
    });
    socket.on("end", () => resolve(text));
    socket.on("error", reject);
    socket.setTimeout(5_000, () => socket.destroy(new Error("no greeting within 5 s")));
  });
}

// --- the HTTP server -----------------------------------------------------------------

type Route = (response: ServerResponse) => void;
const routes = new Map<string, Route>();
let server: Server;
let baseUrl: string;

function serve(path: string, body: Buffer, options: { chunked?: boolean } = {}): string {
  routes.set(path, (response) => {
    if (options.chunked) {
      // No content-length: only counting the bytes can stop it.
      response.writeHead(200, { "content-type": "application/octet-stream" });
      for (let at = 0; at < body.length; at += 512) response.write(body.subarray(at, at + 512));
      response.end();
    } else {
      response.writeHead(200, { "content-length": body.length });
      response.end(body);
    }
  });
  return `${baseUrl}${path}`;
}

beforeAll(async () => {
  server = createHttpServer((request, response) => {
    const route = routes.get(request.url ?? "");
    if (route) return route(response);
    response.writeHead(404).end("no such build");
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  if (address === null || typeof address === "string") throw new Error("no server address");
  baseUrl = `http://127.0.0.1:${address.port}`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

// --- per-test world ------------------------------------------------------------------

interface World {
  dir: string;
  outside: string;
  builds: BuildCache;
  instances: Instances;
  exits: { id: string; code: number | null; signal: NodeJS.Signals | null }[];
  run(type: string, params: unknown): Promise<ActionOutcome>;
  start(type: string, params: unknown): { done: Promise<ActionOutcome>; cancel(): void };
}

let tmp: string;
const registries: Instances[] = [];

beforeEach(async () => {
  tmp = await mkdtemp(join(tmpdir(), "fw-instance-actions-"));
});

afterEach(async () => {
  for (const instances of registries.splice(0)) {
    for (const id of instances.ids()) await instances.stop(id, "hard", 0).catch(() => {});
  }
  await rm(tmp, { recursive: true, force: true });
});

function instanceConfig(id: string, command: string, env: Record<string, string> = {}) {
  return {
    id,
    directory: join(tmp, "instances", id),
    start: { command, env: { RUNTIME: process.execPath, ...env } },
  } satisfies InstanceConfig;
}

function world(
  options: {
    instances?: InstanceConfig[];
    maxArchiveBytes?: number;
    maxExtractedBytes?: number;
    maxEntries?: number;
  } = {},
): World {
  const exits: World["exits"] = [];
  const onExit: InstanceExitListener = (id, code, signal) => exits.push({ id, code, signal });
  const { instances: configs = [], ...limits } = options;
  const instances = new Instances(configs, onExit);
  registries.push(instances);
  const builds = new BuildCache(join(tmp, "state"));
  const handlers = new Map<string, ActionHandler>(
    instanceActions({ instances, builds, ...limits }).map((handler) => [handler.type, handler]),
  );
  const start = (type: string, params: unknown) => {
    const handler = handlers.get(type);
    if (!handler) throw new Error(`no handler ${type}`);
    return handler.start({
      execId: `x-${type}`,
      taskId: 1,
      params: params as never,
      timeoutMs: 0,
      output: () => {},
    });
  };
  return {
    dir: tmp,
    outside: join(tmp, "outside"),
    builds,
    instances,
    exits,
    start,
    run: (type, params) => start(type, params).done,
  };
}

async function putArchive(w: World, buildId: string, data: Buffer): Promise<void> {
  await mkdir(join(w.builds.root, "archives"), { recursive: true });
  await writeFile(w.builds.archivePath(buildId), data);
}

/** An extracted build made directly on disk, for the stop/deploy/start scenarios. */
async function putBuild(w: World, buildId: string, files: Record<string, string>) {
  const dir = w.builds.extractedPath(buildId);
  await mkdir(dir, { recursive: true });
  for (const [name, content] of Object.entries(files)) {
    await writeFile(join(dir, name), content, { mode: 0o755 });
  }
}

async function scratchLeft(w: World): Promise<string[]> {
  return existsSync(join(w.builds.root, "tmp")) ? readdir(join(w.builds.root, "tmp")) : [];
}

async function logOf(w: World, id: string): Promise<string> {
  return readFile(w.instances.paths(id).log, "utf8").catch(() => "");
}

function logLine(w: World, id: string, pattern: RegExp): Promise<RegExpMatchArray> {
  return waitFor(`${pattern} in the log of ${id}`, async () => {
    return (await logOf(w, id)).match(pattern) ?? undefined;
  });
}

async function goodBuildDir(name: string, version = name): Promise<string> {
  const dir = join(tmp, "src", name);
  await writeBuild(dir, version);
  return dir;
}

// --- params ------------------------------------------------------------------------

describe("param schemas", () => {
  const handlers = new Map(
    instanceActions({ instances: new Instances([]), builds: new BuildCache("/nonexistent") }).map(
      (handler) => [handler.type, TypeCompiler.Compile(handler.params)],
    ),
  );
  const sha = "ab".repeat(32);
  it.each([
    ["download-build", { buildId: "v1", url: "https://builds.example/v1.tgz", sha256: sha }, true],
    ["download-build", { buildId: "v1", url: "file:///srv/v1.tgz" }, true],
    ["download-build", { buildId: "v1", url: "ftp://builds.example/v1.tgz" }, false],
    ["download-build", { buildId: "v1", url: "http://x", sha256: "abc" }, false],
    ["download-build", { buildId: "a/b", url: "http://x" }, false],
    ["download-build", { buildId: "v1", url: "http://x", extra: 1 }, false],
    ["extract-build", { buildId: "v1", format: "zip" }, true],
    ["extract-build", { buildId: "v1", format: "rar" }, false],
    ["stop-instance", { instanceId: "web" }, true],
    ["stop-instance", { instanceId: "web", methodId: "graceful", timeout: 0 }, true],
    ["stop-instance", { instanceId: "web", methodId: "soft" }, false],
    ["stop-instance", { instanceId: "web", timeout: -1 }, false],
    ["deploy-build", { instanceId: "web", buildId: "v1" }, true],
    ["deploy-build", { instanceId: "web" }, false],
    ["start-instance", { instanceId: "web" }, true],
    ["start-instance", { instanceId: "web", buildId: "v1" }, false],
  ] as const)("%s %j valid: %s", (type, params, valid) => {
    expect(handlers.get(type)?.Check(params)).toBe(valid);
  });
});

// --- download-build ------------------------------------------------------------------

describe("download-build", () => {
  it("downloads over http into the cache when the sha256 matches", async () => {
    const w = world();
    const data = await tarOf(await goodBuildDir("v1"), true);
    const url = serve("/v1.tar.gz", data);
    const outcome = await w.run("download-build", { buildId: "v1", url, sha256: sha256(data) });
    expect(outcome).toMatchObject({ ok: true });
    expect(outcome.message).toContain(sha256(data));
    expect(await readFile(w.builds.archivePath("v1"))).toEqual(data);
    expect(await scratchLeft(w)).toEqual([]);
  });

  it("fails on an http sha256 mismatch naming both hashes, caching nothing", async () => {
    const w = world();
    const data = Buffer.from("not the build you expect");
    const url = serve("/wrong.tar.gz", data);
    const expected = "a".repeat(64);
    const outcome = await w.run("download-build", { buildId: "v1", url, sha256: expected });
    expect(outcome.ok).toBe(false);
    expect(outcome.message).toBe(
      `download-build: sha256 mismatch: expected ${expected}, got ${sha256(data)}`,
    );
    expect(existsSync(w.builds.archivePath("v1"))).toBe(false);
    expect(await scratchLeft(w)).toEqual([]);
  });

  it("reads file: URLs from disk, with sha256 ok and mismatch", async () => {
    const w = world();
    const data = await tarOf(await goodBuildDir("v1"), false);
    const file = join(tmp, "v1.tar");
    await writeFile(file, data);
    const url = pathToFileURL(file).href;
    expect(
      await w.run("download-build", { buildId: "v1", url, sha256: sha256(data) }),
    ).toMatchObject({ ok: true });
    expect(await readFile(w.builds.archivePath("v1"))).toEqual(data);

    const bad = await w.run("download-build", { buildId: "v2", url, sha256: "0".repeat(64) });
    expect(bad.ok).toBe(false);
    expect(bad.message).toMatch(/sha256 mismatch: expected 0{64}, got [0-9a-f]{64}/);
    expect(existsSync(w.builds.archivePath("v2"))).toBe(false);
    expect(await scratchLeft(w)).toEqual([]);
  });

  it("stops at the size limit, whether or not the server declares a length", async () => {
    const w = world({ maxArchiveBytes: 4096 });
    const data = Buffer.alloc(10_000, 7);
    for (const [path, chunked] of [
      ["/big", false],
      ["/big-chunked", true],
    ] as const) {
      const outcome = await w.run("download-build", {
        buildId: "big",
        url: serve(path, data, { chunked }),
      });
      expect(outcome).toEqual({
        ok: false,
        message: "download-build: the archive is larger than the limit of 4096 bytes",
      });
    }
    const file = join(tmp, "big.bin");
    await writeFile(file, data);
    const fromDisk = await w.run("download-build", {
      buildId: "big",
      url: pathToFileURL(file).href,
    });
    expect(fromDisk.message).toContain("larger than the limit of 4096 bytes");
    expect(existsSync(w.builds.archivePath("big"))).toBe(false);
    expect(await scratchLeft(w)).toEqual([]);
  });

  it("fails with the HTTP status of a missing build", async () => {
    const w = world();
    const outcome = await w.run("download-build", { buildId: "v1", url: `${baseUrl}/nope?sig=x` });
    expect(outcome).toEqual({
      ok: false,
      message: `download-build: HTTP 404 Not Found from ${baseUrl}/nope`,
    });
  });

  it("refuses a build id that names a directory", async () => {
    const w = world();
    const outcome = await w.run("download-build", { buildId: "..", url: `${baseUrl}/x` });
    expect(outcome.ok).toBe(false);
    expect(outcome.message).toMatch(/^download-build: invalid build id "\.\."/);
  });

  it("cancel aborts a download that is under way and leaves nothing behind", async () => {
    const w = world();
    let requested: () => void = () => {};
    const started = new Promise<void>((resolve) => {
      requested = resolve;
    });
    routes.set("/stalls", (response) => {
      // Half the body, then silence: only the cancel can end this download.
      response.writeHead(200, { "content-length": 100_000 });
      response.write(Buffer.alloc(50_000));
      requested();
    });
    const attempt = w.start("download-build", { buildId: "slow", url: `${baseUrl}/stalls` });
    await started;
    attempt.cancel();
    expect(await attempt.done).toEqual({ ok: false, message: "download-build: cancelled" });
    expect(existsSync(w.builds.archivePath("slow"))).toBe(false);
    expect(await scratchLeft(w)).toEqual([]);
  });
});

// --- extract-build -------------------------------------------------------------------

describe("extract-build", () => {
  async function expectGoodBuild(w: World, buildId: string, version: string) {
    const dir = w.builds.extractedPath(buildId);
    expect(await readFile(join(dir, "VERSION"), "utf8")).toBe(version);
    expect(await readFile(join(dir, "hello-link"), "utf8")).toBe(`hello from ${version}\n`);
    expect(await readlink(join(dir, "hello-link"))).toBe("data/hello.txt");
    expect((await stat(join(dir, "run.sh"))).mode & 0o100).toBe(0o100);
  }

  it("extracts a tar.gz, a tar and a zip, recognising each by its first bytes", async () => {
    const w = world();
    await putArchive(w, "gz", await tarOf(await goodBuildDir("gz"), true));
    await putArchive(w, "plain", await tarOf(await goodBuildDir("plain"), false));
    await putArchive(
      w,
      "zipped",
      await zipOf([
        { path: "data/", directory: true },
        { path: "VERSION", data: Buffer.from("zipped") },
        { path: "data/hello.txt", data: Buffer.from("hello from zipped\n") },
        { path: "run.sh", data: Buffer.from("#!/bin/sh\n"), mode: 0o100755 },
        { path: "hello-link", data: Buffer.from("data/hello.txt"), mode: 0o120777 },
      ]),
    );
    for (const [buildId, format] of [
      ["gz", "tar.gz"],
      ["plain", "tar"],
      ["zipped", "zip"],
    ] as const) {
      const outcome = await w.run("extract-build", { buildId });
      expect(outcome.ok, outcome.message).toBe(true);
      expect(outcome.message).toContain(`(${format})`);
      await expectGoodBuild(w, buildId, buildId);
    }
    expect(await scratchLeft(w)).toEqual([]);
  });

  it("replaces an earlier extraction of the same build on success", async () => {
    const w = world();
    await putArchive(w, "b", await tarOf(await goodBuildDir("one", "one"), true));
    expect((await w.run("extract-build", { buildId: "b" })).ok).toBe(true);
    await writeFile(join(w.builds.extractedPath("b"), "stale.txt"), "left over");
    await putArchive(w, "b", await tarOf(await goodBuildDir("two", "two"), true));
    expect((await w.run("extract-build", { buildId: "b", format: "tar.gz" })).ok).toBe(true);
    await expectGoodBuild(w, "b", "two");
    expect(existsSync(join(w.builds.extractedPath("b"), "stale.txt"))).toBe(false);
  });

  it("cancel stops an extraction, removes its scratch directory and keeps the earlier one", async () => {
    const w = world();
    await putArchive(w, "b", await tarOf(await goodBuildDir("good"), true));
    expect((await w.run("extract-build", { buildId: "b" })).ok).toBe(true);
    const big = Array.from({ length: 40 }, (_, i) => ({
      path: `blob${i}.bin`,
      body: Buffer.alloc(256 * 1024, i),
    }));
    await putArchive(w, "b", rawTar(big));
    const attempt = w.start("extract-build", { buildId: "b" });
    attempt.cancel();
    expect(await attempt.done).toEqual({ ok: false, message: "extract-build: cancelled" });
    expect(await scratchLeft(w)).toEqual([]);
    await expectGoodBuild(w, "b", "good");
  });

  it("fails clearly when the build was never downloaded", async () => {
    const w = world();
    expect(await w.run("extract-build", { buildId: "ghost" })).toEqual({
      ok: false,
      message: "extract-build: build ghost is not downloaded",
    });
  });

  describe("refuses hostile archives, writing nothing outside and keeping the earlier extraction", () => {
    /** From the scratch directory an extraction is written in, to the test's `outside` dir. */
    function toOutside(w: World, name: string): string {
      return join(relative(join(w.builds.root, "tmp", "x"), w.outside), name);
    }

    const hostile: {
      name: string;
      archive: (w: World) => Buffer | Promise<Buffer>;
      message: RegExp;
    }[] = [
      {
        name: "a ../ entry",
        archive: (w) => rawTar([{ path: toOutside(w, "evil.txt"), body: Buffer.from("x") }]),
        message:
          /refused entry "(\.\.\/)+outside\/evil\.txt": path escapes the extraction directory/,
      },
      {
        name: "an absolute path",
        archive: (w) => rawTar([{ path: join(w.outside, "evil.txt"), body: Buffer.from("x") }]),
        message: /refused entry "\/.*\/outside\/evil\.txt": absolute path/,
      },
      {
        name: "a symlink pointing outside, then a file written through it",
        archive: (w) =>
          rawTar([
            { path: "escape", type: "SymbolicLink", linkpath: toOutside(w, "") },
            { path: "escape/evil.txt", body: Buffer.from("x") },
          ]),
        message: /refused entry "escape": symlink to ".*outside" resolves outside/,
      },
      {
        name: "an absolute symlink",
        archive: (w) => rawTar([{ path: "escape", type: "SymbolicLink", linkpath: w.outside }]),
        message: /refused entry "escape": symlink to "\/.*" resolves outside/,
      },
      {
        name: "a symlink chain that escapes only when followed",
        archive: () =>
          rawTar([
            { path: "here", type: "SymbolicLink", linkpath: "." },
            { path: "up", type: "SymbolicLink", linkpath: "here/.." },
          ]),
        message: /refused entry "up": symlink to "here\/\.\." resolves outside/,
      },
      {
        name: "a file written through an inside symlink",
        archive: () =>
          rawTar([
            { path: "real", type: "Directory" },
            { path: "alias", type: "SymbolicLink", linkpath: "real" },
            { path: "alias/file.txt", body: Buffer.from("x") },
          ]),
        message: /refused entry "alias\/file\.txt": goes through a symlink at "alias"/,
      },
      {
        name: "a hardlink to a file outside",
        archive: (w) =>
          rawTar([{ path: "hard", type: "Link", linkpath: toOutside(w, "secret.txt") }]),
        message: /refused entry "hard": hardlink to ".*outside\/secret\.txt" resolves outside/,
      },
      {
        name: "a hardlink to an absolute path",
        archive: (w) =>
          rawTar([{ path: "hard", type: "Link", linkpath: join(w.outside, "secret.txt") }]),
        message: /refused entry "hard": hardlink to "\/.*secret\.txt" resolves outside/,
      },
      {
        name: "a character device",
        archive: () => rawTar([{ path: "tty", type: "CharacterDevice" }]),
        message: /refused entry "tty": CharacterDevice entries are not allowed/,
      },
      {
        name: "a fifo",
        archive: () => rawTar([{ path: "pipe", type: "FIFO" }]),
        message: /refused entry "pipe": FIFO entries are not allowed/,
      },
      {
        name: "a tar.gz bomb over the size limit",
        archive: () => gzipSync(rawTar([{ path: "zeros.bin", body: Buffer.alloc(300_000) }])),
        message: /refused archive: more than 200000 bytes uncompressed/,
      },
      {
        name: "files that add up past the size limit",
        archive: () =>
          rawTar([
            { path: "a.bin", body: Buffer.alloc(150_000, 1) },
            { path: "b.bin", body: Buffer.alloc(150_000, 2) },
          ]),
        message: /refused archive: more than 200000 bytes uncompressed/,
      },
      {
        name: "a zip bomb over the size limit",
        archive: () => zipOf([{ path: "zeros.bin", data: Buffer.alloc(300_000) }]),
        message: /refused archive: more than 200000 bytes uncompressed/,
      },
      {
        name: "more entries than allowed",
        archive: () =>
          rawTar(Array.from({ length: 60 }, (_, i) => ({ path: `f${i}`, body: Buffer.from("x") }))),
        message: /refused archive: more than 50 entries/,
      },
      {
        name: "a zip with a ../ entry",
        archive: async () =>
          renameInZip(await zipOf([{ path: "XX/evil.txt", data: Buffer.from("x") }]), "XX/", "../"),
        message: /refused entry "\.\.\/evil\.txt": path escapes the extraction directory/,
      },
      {
        name: "a zip with a symlink pointing outside",
        archive: () => zipOf([{ path: "escape", data: Buffer.from("../../.."), mode: 0o120777 }]),
        message: /refused entry "escape": symlink to "\.\.\/\.\.\/\.\." resolves outside/,
      },
      {
        name: "a ../ in the middle of a path that climbs out",
        archive: () => rawTar([{ path: "a/../../evil.txt", body: Buffer.from("x") }]),
        message: /refused entry "a\/\.\.\/\.\.\/evil\.txt": path escapes the extraction directory/,
      },
      {
        // Each link stays inside when read as text; followed, they climb to the test's
        // temp dir, so a hardlink to `l<n>/outside/secret.txt` would reach the secret.
        name: "a hardlink through a symlink chain that escapes only when followed",
        archive: (w) => {
          const levels = toOutside(w, "")
            .split("/")
            .filter((part) => part === "..").length;
          const chain: RawEntry[] = [{ path: "l0", type: "SymbolicLink", linkpath: "." }];
          for (let i = 1; i <= levels; i++) {
            chain.push({ path: `l${i}`, type: "SymbolicLink", linkpath: `l${i - 1}/..` });
          }
          chain.push({ path: "hard", type: "Link", linkpath: `l${levels}/outside/secret.txt` });
          return rawTar(chain);
        },
        message: /refused entry "hard": link source goes through a non-directory at "l\d+"/,
      },
      {
        name: "a zip with an absolute path",
        archive: async () =>
          renameInZip(
            await zipOf([{ path: "Xevil.txt", data: Buffer.from("x") }]),
            "Xevil",
            "/evil",
          ),
        message: /refused entry "\/evil\.txt": absolute path/,
      },
      {
        name: "a zip bomb whose headers understate its size",
        archive: async () =>
          understateZip(await zipOf([{ path: "zeros.bin", data: Buffer.alloc(300_000) }]), 100),
        message: /^extract-build: corrupted archive: too many bytes in the stream/,
      },
      {
        name: "a corrupted tar.gz",
        archive: async () => {
          const good = await tarOf(await goodBuildDir("truncated"), true);
          return good.subarray(0, Math.floor(good.length / 2));
        },
        message: /^extract-build: corrupted archive: .+/,
      },
      {
        name: "garbage taken for a tar",
        archive: () => Buffer.alloc(2048, "garbage "),
        message: /^extract-build: corrupted archive: TAR_ENTRY_INVALID: checksum failure/,
      },
      {
        name: "a truncated zip",
        archive: async () => {
          const good = await zipOf([{ path: "a.txt", data: Buffer.alloc(5_000, "a") }]);
          return good.subarray(0, good.length - 30);
        },
        message:
          /^extract-build: corrupted archive: End of central directory record signature not found/,
      },
    ];

    it.each(hostile)("$name", async ({ archive, message }) => {
      const w = world({ maxExtractedBytes: 200_000, maxEntries: 50 });
      await mkdir(w.outside);
      await writeFile(join(w.outside, "secret.txt"), "secret");
      await putArchive(w, "b", await tarOf(await goodBuildDir("good"), true));
      expect((await w.run("extract-build", { buildId: "b" })).ok).toBe(true);

      await putArchive(w, "b", await archive(w));
      const outcome = await w.run("extract-build", { buildId: "b" });
      expect(outcome.ok).toBe(false);
      expect(outcome.message).toMatch(/^extract-build: /);
      expect(outcome.message).toMatch(message);

      expect(await readdir(w.outside)).toEqual(["secret.txt"]);
      expect(await readFile(join(w.outside, "secret.txt"), "utf8")).toBe("secret");
      expect(await readdir(join(w.builds.root, "extracted"))).toEqual(["b"]);
      expect(await scratchLeft(w)).toEqual([]);
      await expectGoodBuild(w, "b", "good");
    });
  });
});

// --- stop-instance -------------------------------------------------------------------

/** Traps SIGTERM, says so in the log and exits. */
const TRAPS_TERM = "trap 'echo got TERM; exit 0' TERM; echo ready; while :; do sleep 0.05; done";
/** Ignores SIGTERM (and so do the sleeps it starts): only SIGKILL ends it. */
const IGNORES_TERM = "trap '' TERM; echo ready; while :; do sleep 0.05; done";

async function running(w: World, id: string): Promise<number> {
  await putBuild(w, `${id}-build`, {});
  expect((await w.run("deploy-build", { instanceId: id, buildId: `${id}-build` })).ok).toBe(true);
  const started = await w.run("start-instance", { instanceId: id });
  expect(started.ok, started.message).toBe(true);
  await logLine(w, id, /ready/);
  const pid = w.instances.pid(id);
  if (pid === undefined) throw new Error(`${id} is not running`);
  return pid;
}

describe("stop-instance", () => {
  it("graceful: SIGTERM, and the instance exits by itself", async () => {
    const w = world({ instances: [instanceConfig("web", TRAPS_TERM)] });
    const pid = await running(w, "web");
    const outcome = await w.run("stop-instance", {
      instanceId: "web",
      methodId: "graceful",
      timeout: 20,
    });
    expect(outcome).toEqual({
      ok: true,
      message: `stop-instance: stopped web (pid ${pid}) with SIGTERM`,
    });
    expect(await logOf(w, "web")).toContain("got TERM");
    expect(w.instances.isRunning("web")).toBe(false);
    expect(existsSync(w.instances.paths("web").pid)).toBe(false);
    expect(w.exits).toEqual([]);
  });

  it("graceful: an instance that ignores SIGTERM is killed once the timeout passes", async () => {
    const w = world({ instances: [instanceConfig("stubborn", IGNORES_TERM)] });
    const pid = await running(w, "stubborn");
    const began = Date.now();
    const outcome = await w.run("stop-instance", {
      instanceId: "stubborn",
      methodId: "graceful",
      timeout: 0.5,
    });
    expect(Date.now() - began).toBeGreaterThanOrEqual(450);
    expect(outcome).toEqual({
      ok: true,
      message: `stop-instance: stopped stubborn (pid ${pid}) with SIGKILL after 0.5 s`,
    });
    expect(w.instances.isRunning("stubborn")).toBe(false);
  });

  it("hard is the default (spec 2.17): SIGKILL at once, no trap runs", async () => {
    const w = world({ instances: [instanceConfig("web", TRAPS_TERM)] });
    const pid = await running(w, "web");
    const outcome = await w.run("stop-instance", { instanceId: "web" });
    expect(outcome).toEqual({
      ok: true,
      message: `stop-instance: stopped web (pid ${pid}) with SIGKILL`,
    });
    expect(await logOf(w, "web")).not.toContain("got TERM");
    expect(w.instances.isRunning("web")).toBe(false);
  });

  it("succeeds without doing anything when the instance is not running", async () => {
    const w = world({ instances: [instanceConfig("idle", "true")] });
    expect(await w.run("stop-instance", { instanceId: "idle", methodId: "graceful" })).toEqual({
      ok: true,
      message: "stop-instance: idle is not running",
    });
  });

  it("cancel stops the waiting and leaves the instance as it is", async () => {
    const w = world({ instances: [instanceConfig("stubborn", IGNORES_TERM)] });
    const pid = await running(w, "stubborn");
    const attempt = w.start("stop-instance", {
      instanceId: "stubborn",
      methodId: "graceful",
      timeout: 60,
    });
    attempt.cancel();
    const outcome = await attempt.done;
    expect(outcome.ok).toBe(false);
    expect(outcome.message).toMatch(/^stop-instance: cancelled while waiting for stubborn/);
    expect(w.instances.pid("stubborn")).toBe(pid);
  });

  it("a restarted agent finds the running instance by its pid file and stops it", async () => {
    const config = instanceConfig("web", TRAPS_TERM);
    const before = world({ instances: [config] });
    const pid = await running(before, "web");
    const after = world({ instances: [config] });
    expect(after.instances.pid("web")).toBe(pid);
    expect(await after.run("stop-instance", { instanceId: "web", methodId: "graceful" })).toEqual({
      ok: true,
      message: `stop-instance: stopped web (pid ${pid}) with SIGTERM`,
    });
    expect(before.instances.isRunning("web")).toBe(false);
  });

  it("fails for an instance that is not configured", async () => {
    const w = world();
    expect(await w.run("stop-instance", { instanceId: "nope" })).toEqual({
      ok: false,
      message: "stop-instance: instance nope not found",
    });
  });
});

// --- deploy-build --------------------------------------------------------------------

describe("deploy-build", () => {
  it("switches current to the extracted build, and keeps it when the next deploy fails", async () => {
    const w = world({ instances: [instanceConfig("web", "true")] });
    await putBuild(w, "b1", { VERSION: "b1" });
    await putBuild(w, "b2", { VERSION: "b2" });
    const current = w.instances.paths("web").current;

    expect(await w.run("deploy-build", { instanceId: "web", buildId: "b1" })).toEqual({
      ok: true,
      message: "deploy-build: web now has build b1",
    });
    expect(await readlink(current)).toBe(w.builds.extractedPath("b1"));
    expect(await w.run("deploy-build", { instanceId: "web", buildId: "b2" })).toEqual({
      ok: true,
      message: "deploy-build: web now has build b2 (was b1)",
    });
    expect(await readFile(join(current, "VERSION"), "utf8")).toBe("b2");

    expect(await w.run("deploy-build", { instanceId: "web", buildId: "b3" })).toEqual({
      ok: false,
      message: "deploy-build: build b3 is not extracted",
    });
    const invalid = await w.run("deploy-build", { instanceId: "web", buildId: ".." });
    expect(invalid.message).toMatch(/^deploy-build: invalid build id/);
    expect(await w.instances.deployedBuild("web")).toBe("b2");
    // Only `current`: no temporary link is left behind.
    expect(await readdir(w.instances.paths("web").directory)).toEqual(["current"]);
  });

  it("fails when current cannot be replaced, leaving it as it was", async () => {
    const w = world({ instances: [instanceConfig("web", "true")] });
    await putBuild(w, "b1", {});
    await mkdir(join(w.instances.paths("web").current, "not-a-link"), { recursive: true });
    const outcome = await w.run("deploy-build", { instanceId: "web", buildId: "b1" });
    expect(outcome.ok).toBe(false);
    expect(outcome.message).toMatch(/^deploy-build: cannot replace .*current/);
    expect(await readdir(w.instances.paths("web").current)).toEqual(["not-a-link"]);
    expect(await readdir(w.instances.paths("web").directory)).toEqual(["current"]);
  });
});

// --- start-instance ------------------------------------------------------------------

describe("start-instance", () => {
  it("runs the deployed build's server, which logs and answers on its port", async () => {
    const w = world({ instances: [instanceConfig("game", "./run.sh")] });
    await putArchive(w, "v1", await tarOf(await goodBuildDir("v1"), true));
    expect((await w.run("extract-build", { buildId: "v1" })).ok).toBe(true);
    expect((await w.run("deploy-build", { instanceId: "game", buildId: "v1" })).ok).toBe(true);

    const outcome = await w.run("start-instance", { instanceId: "game" });
    expect(outcome.ok, outcome.message).toBe(true);
    const pid = w.instances.pid("game");
    expect(outcome.message).toBe(`start-instance: started game (pid ${pid})`);
    expect(await readFile(w.instances.paths("game").pid, "utf8")).toBe(`${pid}\n`);
    const [, port] = await logLine(w, "game", /listening v1 on (\d+)/);
    expect(await greeting(Number(port))).toBe("hello from v1\n");

    expect(await w.run("start-instance", { instanceId: "game" })).toEqual({
      ok: true,
      message: `start-instance: game is already running (pid ${pid})`,
    });
  });

  it("fails with the log tail when the instance exits at once", async () => {
    const w = world({
      instances: [instanceConfig("broken", "echo 'boom: no config file' >&2; exit 3")],
    });
    await putBuild(w, "b1", {});
    await w.run("deploy-build", { instanceId: "broken", buildId: "b1" });
    const outcome = await w.run("start-instance", { instanceId: "broken" });
    expect(outcome).toEqual({
      ok: false,
      exitCode: 3,
      stdout: "boom: no config file\n",
      message:
        "start-instance: broken exited within 200 ms (exit code 3); log tail:\nboom: no config file\n",
    });
    expect(w.instances.isRunning("broken")).toBe(false);
  });

  it("fails when no build is deployed", async () => {
    const w = world({ instances: [instanceConfig("bare", "true")] });
    expect(await w.run("start-instance", { instanceId: "bare" })).toEqual({
      ok: false,
      message: "start-instance: instance bare has no deployed build",
    });
  });

  it("reports a crash after a good start through onExit", async () => {
    const crashFile = join(tmp, "crash-now");
    const w = world({
      instances: [
        instanceConfig(
          "fragile",
          'echo ready; while [ ! -e "$CRASH_FILE" ]; do sleep 0.02; done; exit 7',
          { CRASH_FILE: crashFile },
        ),
      ],
    });
    await running(w, "fragile");
    await writeFile(crashFile, "");
    await waitFor("the crash report", () => (w.exits.length > 0 ? true : undefined));
    expect(w.exits).toEqual([{ id: "fragile", code: 7, signal: null }]);
    expect(w.instances.isRunning("fragile")).toBe(false);
    expect(existsSync(w.instances.paths("fragile").pid)).toBe(false);
  });
});

// --- end to end ----------------------------------------------------------------------

describe("an instance deployment task, action by action", () => {
  const steps = (buildId: string, url: string, sha: string) =>
    [
      ["download-build", { buildId, url, sha256: sha }],
      ["extract-build", { buildId }],
      ["stop-instance", { instanceId: "game", methodId: "graceful", timeout: 10 }],
      ["deploy-build", { instanceId: "game", buildId }],
      ["start-instance", { instanceId: "game" }],
    ] as const;

  /** Runs the steps in order and stops at the first failure, as the engine does. */
  async function runTask(w: World, list: ReturnType<typeof steps>) {
    const outcomes: ActionOutcome[] = [];
    for (const [type, params] of list) {
      const outcome = await w.run(type, params);
      outcomes.push(outcome);
      if (!outcome.ok) break;
    }
    return outcomes;
  }

  it("deploys v1, then replaces it with v2 while it runs, each answering on its port", async () => {
    const w = world({ instances: [instanceConfig("game", "./run.sh")] });
    const v1 = await tarOf(await goodBuildDir("v1"), true);
    const first = await runTask(w, steps("v1", serve("/e2e/v1.tar.gz", v1), sha256(v1)));
    expect(first.map((o) => o.ok)).toEqual([true, true, true, true, true]);
    expect(first[2]?.message).toBe("stop-instance: game is not running");
    const [, port1] = await logLine(w, "game", /listening v1 on (\d+)/);
    expect(await greeting(Number(port1))).toBe("hello from v1\n");
    const pid1 = w.instances.pid("game");

    const v2dir = await goodBuildDir("v2");
    const v2 = await zipOf([
      { path: "VERSION", data: await readFile(join(v2dir, "VERSION")) },
      { path: "server.mjs", data: await readFile(join(v2dir, "server.mjs")) },
      { path: "run.sh", data: await readFile(join(v2dir, "run.sh")), mode: 0o100755 },
    ]);
    const second = await runTask(w, steps("v2", serve("/e2e/v2.zip", v2), sha256(v2)));
    expect(second.map((o) => o.ok)).toEqual([true, true, true, true, true]);
    expect(second[2]?.message).toBe(`stop-instance: stopped game (pid ${pid1}) with SIGTERM`);
    expect(await logOf(w, "game")).toContain("stopping v1");
    const [, port2] = await logLine(w, "game", /listening v2 on (\d+)/);
    expect(await greeting(Number(port2))).toBe("hello from v2\n");
    expect(w.instances.pid("game")).not.toBe(pid1);
    expect(await w.instances.deployedBuild("game")).toBe("v2");
    expect(w.exits).toEqual([]);
  });

  it("a corrupted v2 fails at extract; v1 stays deployed, running and answering", async () => {
    const w = world({ instances: [instanceConfig("game", "./run.sh")] });
    const v1 = await tarOf(await goodBuildDir("v1"), true);
    const first = await runTask(w, steps("v1", serve("/e2e2/v1.tar.gz", v1), sha256(v1)));
    expect(first.every((o) => o.ok)).toBe(true);
    const [, port] = await logLine(w, "game", /listening v1 on (\d+)/);
    const pid = w.instances.pid("game");

    const good = await tarOf(await goodBuildDir("v2"), true);
    const corrupted = Buffer.concat([
      good.subarray(0, 64),
      Buffer.alloc(256, 0xaa),
      good.subarray(320),
    ]);
    const second = await runTask(
      w,
      steps("v2", serve("/e2e2/v2.tar.gz", corrupted), sha256(corrupted)),
    );
    expect(second.map((o) => o.ok)).toEqual([true, false]);
    expect(second[1]?.message).toMatch(/^extract-build: corrupted archive: /);
    expect(existsSync(w.builds.extractedPath("v2"))).toBe(false);
    expect(await w.instances.deployedBuild("game")).toBe("v1");
    expect(w.instances.pid("game")).toBe(pid);
    expect(await greeting(Number(port))).toBe("hello from v1\n");
  });
});
