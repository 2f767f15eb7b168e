/**
 * A tiny "game server" build for deployment tests: a Node script that answers its
 * version on PORT and exits cleanly on SIGTERM, packed as `<www>/<version>.tar.gz`.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import * as tar from "tar";

export const GAME_SERVER_JS = `
const http = require("node:http");
const version = require("node:fs").readFileSync(__dirname + "/VERSION", "utf8").trim();
const server = http.createServer((_, res) => res.end(version));
process.on("SIGTERM", () => server.close(() => process.exit(0)));
server.listen(Number(process.env.PORT), "127.0.0.1");
`;

/** Packs build `version` into `<dir>/www/<version>.tar.gz` (sources in `<dir>/src-<version>`). */
export async function packGameBuild(dir: string, version: string): Promise<string> {
  const source = join(dir, `src-${version}`);
  mkdirSync(source, { recursive: true });
  mkdirSync(join(dir, "www"), { recursive: true });
  writeFileSync(join(source, "server.js"), GAME_SERVER_JS);
  writeFileSync(join(source, "VERSION"), `${version}\n`);
  const file = join(dir, "www", `${version}.tar.gz`);
  await tar.c({ gzip: true, cwd: source, file }, ["server.js", "VERSION"]);
  return file;
}
