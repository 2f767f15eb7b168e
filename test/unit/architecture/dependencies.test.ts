/**
 * Checks the dependency directions of DESIGN.md §2 ("Dependency directions") by
 * reading every .ts file under machines/, src/ and agent/ and collecting what it
 * imports: static `import … from`, `import type`, side-effect `import "x"`,
 * `export … from`, dynamic `import("x")`, `require("x")` and type-position
 * `import("x").T`. Each rule is its own test and lists every offending
 * `file:line → "specifier"` so a failure says exactly what to fix.
 *
 * The scanner is a small tokenizer (comments, strings, template literals and
 * regular-expression literals are masked before matching), cross-checked against
 * Bun's own parser (`Bun.Transpiler#scanImports`, which sees value imports only).
 */
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const ROOT = resolve(fileURLToPath(new URL("../../../", import.meta.url)));
const SCANNED_ROOTS = ["machines", "src", "agent"] as const;

// ---------------------------------------------------------------------------
// Scanner
// ---------------------------------------------------------------------------

type ImportKind = "value" | "type";
type ImportSyntax = "import" | "export-from" | "dynamic" | "require" | "import-equals";

interface RawImport {
  readonly specifier: string;
  readonly kind: ImportKind;
  readonly syntax: ImportSyntax;
  readonly line: number;
}

const KEYWORDS_BEFORE_REGEX = new Set([
  "return",
  "typeof",
  "case",
  "do",
  "else",
  "in",
  "of",
  "new",
  "delete",
  "void",
  "throw",
  "instanceof",
  "yield",
  "await",
]);

/**
 * Replaces comments, template-literal text and regular-expression literals with
 * spaces (newlines kept, so line numbers survive) and every string literal with a
 * placeholder `"__S<n>__"` whose value is kept in `strings`. What is left can be
 * matched with regular expressions without tripping over `import` in a comment or
 * a string.
 */
function maskSource(code: string): { masked: string; strings: string[] } {
  const strings: string[] = [];
  let out = "";
  let i = 0;
  // One entry per open `${ … }` in a template literal: its current `{` depth.
  const templateBraces: number[] = [];
  let inTemplate = false;
  // The last significant token in code, to tell a regex literal from a division.
  let lastToken = "";

  const blank = (text: string) => text.replace(/[^\n]/g, " ");
  if (code.startsWith("#!")) {
    const end = code.indexOf("\n");
    i = end === -1 ? code.length : end;
    out = blank(code.slice(0, i));
  }

  while (i < code.length) {
    const c = code[i] as string;
    const next = code[i + 1];

    if (inTemplate) {
      if (c === "\\") {
        out += blank(code.slice(i, i + 2));
        i += 2;
      } else if (c === "`") {
        out += "`";
        i += 1;
        inTemplate = false;
        lastToken = "`";
      } else if (c === "$" && next === "{") {
        out += "${";
        i += 2;
        templateBraces.push(0);
        inTemplate = false;
        lastToken = "{";
      } else {
        out += c === "\n" ? "\n" : " ";
        i += 1;
      }
      continue;
    }

    if (c === "/" && next === "/") {
      const end = code.indexOf("\n", i);
      const stop = end === -1 ? code.length : end;
      out += blank(code.slice(i, stop));
      i = stop;
      continue;
    }
    if (c === "/" && next === "*") {
      const end = code.indexOf("*/", i + 2);
      const stop = end === -1 ? code.length : end + 2;
      out += blank(code.slice(i, stop));
      i = stop;
      continue;
    }
    if (c === '"' || c === "'") {
      let j = i + 1;
      let value = "";
      while (j < code.length && code[j] !== c && code[j] !== "\n") {
        if (code[j] === "\\") {
          value += code[j + 1] ?? "";
          j += 2;
        } else {
          value += code[j];
          j += 1;
        }
      }
      out += `"__S${strings.length}__"`;
      // Keep line continuations inside strings from shifting line numbers.
      out += code.slice(i, j).replace(/[^\n]/g, "");
      strings.push(value);
      i = j + 1;
      lastToken = '"';
      continue;
    }
    if (c === "`") {
      out += "`";
      i += 1;
      inTemplate = true;
      continue;
    }
    if (c === "/") {
      const regexAllowed =
        lastToken === "" ||
        /^[(,=:[!&|?{};+\-*%<>~^]$/.test(lastToken) ||
        KEYWORDS_BEFORE_REGEX.has(lastToken);
      if (regexAllowed) {
        let close = -1;
        let inClass = false;
        for (let j = i + 1; j < code.length && code[j] !== "\n"; j += 1) {
          const r = code[j];
          if (r === "\\") j += 1;
          else if (r === "[") inClass = true;
          else if (r === "]") inClass = false;
          else if (r === "/" && !inClass) {
            close = j;
            break;
          }
        }
        if (close !== -1) {
          let end = close + 1;
          while (end < code.length && /[a-z]/i.test(code[end] as string)) end += 1;
          out += `/${blank(code.slice(i + 1, close))}${code.slice(close, end)}`;
          i = end;
          lastToken = "/regex/";
          continue;
        }
      }
    }
    if (templateBraces.length > 0) {
      const top = templateBraces.length - 1;
      if (c === "{") templateBraces[top] = (templateBraces[top] ?? 0) + 1;
      else if (c === "}") {
        if (templateBraces[top] === 0) {
          templateBraces.pop();
          out += "}";
          i += 1;
          inTemplate = true;
          continue;
        }
        templateBraces[top] = (templateBraces[top] ?? 1) - 1;
      }
    }
    if (/[A-Za-z_$]/.test(c)) {
      let j = i + 1;
      while (j < code.length && /[\w$]/.test(code[j] as string)) j += 1;
      const word = code.slice(i, j);
      out += word;
      i = j;
      lastToken = word;
      continue;
    }
    if (!/\s/.test(c)) lastToken = c;
    out += c;
    i += 1;
  }
  return { masked: out, strings };
}

const STRING = String.raw`"__S(\d+)__"`;
const IDENT = String.raw`[A-Za-z_$][\w$]*`;

/** True when a named-import/export list `{ … }` carries only `type` members. */
function onlyTypeMembers(list: string): boolean {
  const members = list
    .replace(/^\{|\}$/g, "")
    .split(",")
    .map((m) => m.trim())
    .filter((m) => m !== "");
  return members.length > 0 && members.every((m) => /^type\s+/.test(m));
}

/** Every import-like reference in one TypeScript source text. */
function scanImports(code: string): RawImport[] {
  const { masked, strings } = maskSource(code);
  const found: RawImport[] = [];
  const lineAt = (index: number) => masked.slice(0, index).split("\n").length;
  const str = (n: string | undefined) => strings[Number(n)] ?? "";

  // `import` / `export` not preceded by `.` (property access) or an identifier char.
  const keyword = /(?<![\w$.])(import|export)(?![\w$])/g;
  for (let m = keyword.exec(masked); m !== null; m = keyword.exec(masked)) {
    const at = m.index;
    const rest = masked.slice(at);
    const line = lineAt(at);

    if (m[1] === "import") {
      // import.meta
      if (/^import\s*\.\s*meta\b/.test(rest)) continue;
      // import("x"): dynamic, or a type query (`typeof import("x")`, `import("x").T`).
      const dyn = new RegExp(String.raw`^import\s*\(\s*${STRING}\s*[,)]`).exec(rest);
      if (dyn) {
        const before = masked.slice(0, at).trimEnd();
        const afterCall = masked.slice(at + dyn[0].length);
        const closeIdx = dyn[0].endsWith(")") ? 0 : afterCall.indexOf(")") + 1;
        const tail = afterCall.slice(closeIdx);
        const member = /^\s*\.\s*([A-Za-z_$][\w$]*)/.exec(tail);
        const typeQuery =
          /(?<![\w$])typeof$/.test(before) ||
          (member !== null && !["then", "catch", "finally"].includes(member[1] as string));
        found.push({
          specifier: str(dyn[1]),
          kind: typeQuery ? "type" : "value",
          syntax: "dynamic",
          line,
        });
        continue;
      }
      // import "x"
      const side = new RegExp(String.raw`^import\s*${STRING}`).exec(rest);
      if (side) {
        found.push({ specifier: str(side[1]), kind: "value", syntax: "import", line });
        continue;
      }
      // import [type] X = require("x")
      const equals = new RegExp(
        String.raw`^import\s+(type\s+)?${IDENT}\s*=\s*require\s*\(\s*${STRING}\s*\)`,
      ).exec(rest);
      if (equals) {
        found.push({
          specifier: str(equals[2]),
          kind: equals[1] ? "type" : "value",
          syntax: "import-equals",
          line,
        });
        continue;
      }
      // import <clause> from "x"
      const stmt = new RegExp(String.raw`^import\s+([^;"]*?)\s*\bfrom\s*${STRING}`).exec(rest);
      if (stmt) {
        const clause = (stmt[1] as string).trim();
        // `import type from "x"` is a default import named `type`.
        const typeOnlyKeyword = /^type\s+(?!from\b)\S/.test(clause) || /^type\s*[{*]/.test(clause);
        const namedOnly = /^\{[\s\S]*\}$/.test(clause) && onlyTypeMembers(clause);
        found.push({
          specifier: str(stmt[2]),
          kind: typeOnlyKeyword || namedOnly ? "type" : "value",
          syntax: "import",
          line,
        });
      }
      continue;
    }

    // export [type] { … } from "x" | export [type] * [as ns] from "x"
    const exp = new RegExp(
      String.raw`^export\s+(type\s+)?(\*(?:\s+as\s+${IDENT})?|\{[^}]*\})\s*from\s*${STRING}`,
    ).exec(rest);
    if (exp) {
      const clause = exp[2] as string;
      const typeOnly = Boolean(exp[1]) || (clause.startsWith("{") && onlyTypeMembers(clause));
      found.push({
        specifier: str(exp[3]),
        kind: typeOnly ? "type" : "value",
        syntax: "export-from",
        line,
      });
    }
  }

  // require("x") not preceded by `.` or part of `import x = require`.
  const req = new RegExp(String.raw`(?<![\w$.])require\s*\(\s*${STRING}\s*\)`, "g");
  for (let m = req.exec(masked); m !== null; m = req.exec(masked)) {
    const before = masked.slice(0, m.index);
    if (new RegExp(String.raw`import\s+(type\s+)?${IDENT}\s*=\s*$`).test(before)) continue;
    found.push({ specifier: str(m[1]), kind: "value", syntax: "require", line: lineAt(m.index) });
  }
  return found;
}

// ---------------------------------------------------------------------------
// The tree
// ---------------------------------------------------------------------------

interface ImportRef extends RawImport {
  /** Repo-relative POSIX path of the importing file. */
  readonly file: string;
  /** Repo-relative POSIX path of the imported file, or null for a package. */
  readonly target: string | null;
  /** True for a relative specifier that resolves to no file. */
  readonly unresolved: boolean;
}

const toPosix = (p: string) => p.split(sep).join("/");

function listTsFiles(dir: string): string[] {
  const abs = join(ROOT, dir);
  if (!existsSync(abs)) return [];
  const result: string[] = [];
  for (const entry of readdirSync(abs, { withFileTypes: true })) {
    if (entry.name === "node_modules" || entry.name.startsWith(".")) continue;
    const rel = `${dir}/${entry.name}`;
    if (entry.isDirectory()) result.push(...listTsFiles(rel));
    else if (entry.isFile() && entry.name.endsWith(".ts")) result.push(rel);
  }
  return result;
}

function resolveRelative(fromFile: string, specifier: string): string | null {
  const base = resolve(ROOT, dirname(fromFile), specifier);
  const candidates = [
    base,
    `${base}.ts`,
    `${base}.tsx`,
    `${base}.d.ts`,
    base.replace(/\.(m|c)?js$/, ".$1ts"),
    join(base, "index.ts"),
  ];
  for (const candidate of candidates) {
    if (existsSync(candidate) && statSync(candidate).isFile()) {
      return toPosix(relative(ROOT, candidate));
    }
  }
  return null;
}

const FILES = SCANNED_ROOTS.flatMap((root) => listTsFiles(root)).sort();
const SOURCES = new Map(FILES.map((file) => [file, readFileSync(join(ROOT, file), "utf8")]));

const IMPORTS: ImportRef[] = FILES.flatMap((file) =>
  scanImports(SOURCES.get(file) ?? "").map((raw): ImportRef => {
    const relativeSpec = raw.specifier.startsWith("./") || raw.specifier.startsWith("../");
    if (!relativeSpec) return { ...raw, file, target: null, unresolved: false };
    const target = resolveRelative(file, raw.specifier);
    return {
      ...raw,
      file,
      target: target ?? toPosix(relative(ROOT, resolve(ROOT, dirname(file), raw.specifier))),
      unresolved: target === null,
    };
  }),
);

// ---------------------------------------------------------------------------
// Layers and rules
// ---------------------------------------------------------------------------

type Layer =
  | "machines"
  | "protocol"
  | "runtime"
  | "store"
  | "bus"
  | "api"
  | "agent"
  | "main"
  | "cli"
  | "config"
  | "log"
  | "clock"
  | "errors"
  | "src-other"
  | "outside";

function layerOf(path: string): Layer {
  if (path.startsWith("machines/")) return "machines";
  if (path.startsWith("agent/")) return "agent";
  const folder = /^src\/(protocol|runtime|store|bus|api)\//.exec(path);
  if (folder) return folder[1] as Layer;
  const top = /^src\/(main|cli|config|log|clock|errors)(?:\.ts|\/index\.ts)$/.exec(path);
  if (top) return top[1] as Layer;
  if (path.startsWith("src/")) return "src-other";
  return "outside";
}

/** How a message names the imported file's layer. */
function nameOf(target: string): string {
  const layer = layerOf(target);
  if (layer === "machines" || layer === "agent") return `${layer}/`;
  if (layer === "outside" || layer === "src-other") return target;
  return `src/${layer}`;
}

const isPackage = (spec: string, name: string) => spec === name || spec.startsWith(`${name}/`);
const TYPEBOX = (spec: string) => isPackage(spec, "@sinclair/typebox");

/** A reason string when the import breaks the rule, null when it is fine. */
type Check = (ref: ImportRef) => string | null;

function describeRef(ref: ImportRef): string {
  const what = ref.target === null ? "" : ` (${ref.target})`;
  return `${ref.file}:${ref.line} → "${ref.specifier}"${what} [${ref.kind}]`;
}

function violations(from: (file: string) => boolean, check: Check): string[] {
  const out: string[] = [];
  for (const ref of IMPORTS) {
    if (!from(ref.file)) continue;
    const reason = check(ref);
    if (reason !== null) out.push(`${describeRef(ref)}: ${reason}`);
  }
  return out;
}

function report(rule: string, found: readonly string[]): string {
  return `${rule}\n${found.length} violation(s):\n  ${found.join("\n  ")}`;
}

const inLayer = (layer: Layer) => (file: string) => layerOf(file) === layer;

const machinesCheck: Check = (ref) => {
  if (ref.target === null) {
    if (isPackage(ref.specifier, "xstate")) return null;
    if (ref.specifier.startsWith("node:")) return "machines/ must not do I/O (node: module)";
    if (ref.specifier === "bun" || ref.specifier.startsWith("bun:")) {
      return "machines/ must not use Bun APIs";
    }
    return "machines/ may import only xstate from packages";
  }
  const layer = layerOf(ref.target);
  if (layer === "machines") return null;
  if (layer === "protocol") {
    return ref.kind === "type" ? null : "value import from src/protocol (use `import type`)";
  }
  return `machines/ must not import ${nameOf(ref.target)}`;
};

const protocolCheck: Check = (ref) => {
  if (ref.target === null) {
    return TYPEBOX(ref.specifier) ? null : "src/protocol may import only @sinclair/typebox";
  }
  return layerOf(ref.target) === "protocol"
    ? null
    : "src/protocol may import only files inside src/protocol";
};

const storeBusCheck =
  (own: "store" | "bus"): Check =>
  (ref) => {
    if (ref.target === null) return null; // drivers and libraries
    const layer = layerOf(ref.target);
    const allowed: readonly Layer[] = [own, "protocol", "errors", "log", "clock"];
    if (allowed.includes(layer)) return null;
    return `src/${own} must not import ${nameOf(ref.target)}`;
  };

const runtimeCheck: Check = (ref) => {
  if (ref.target === null) {
    if (isPackage(ref.specifier, "xstate") || TYPEBOX(ref.specifier)) return null;
    // Schedules compute their next cron times; parsing cron is a library's job (DESIGN §1).
    if (ref.file === "src/runtime/cron.ts" && isPackage(ref.specifier, "croner")) return null;
    // JSON Schema validation of executor task params, results and errors.
    if (ref.file === "src/runtime/executor-definitions.ts" && isPackage(ref.specifier, "ajv")) {
      return null;
    }
    // Workflow step params are Mustache templates rendered from a job's parameters.
    if (ref.file === "src/runtime/workflows.ts" && isPackage(ref.specifier, "mustache")) {
      return null;
    }
    // The engine's metrics in the Prometheus text format: a library's job (DESIGN §1).
    if (ref.file === "src/runtime/metrics.ts" && isPackage(ref.specifier, "prom-client")) {
      return null;
    }
    return "src/runtime may import only xstate and @sinclair/typebox from packages (and croner in src/runtime/cron.ts, ajv in src/runtime/executor-definitions.ts, mustache in src/runtime/workflows.ts, prom-client in src/runtime/metrics.ts)";
  }
  const layer = layerOf(ref.target);
  if (["machines", "protocol", "clock", "log", "errors", "runtime"].includes(layer)) return null;
  if (layer === "store" && ref.target === "src/store/group-commit.ts") return null;
  if (layer === "store" || layer === "bus") {
    return ref.kind === "type"
      ? null
      : `value import from src/${layer} (only \`import type\` of its interface${layer === "store" ? ", or src/store/group-commit" : ""})`;
  }
  return `src/runtime must not import ${nameOf(ref.target)}`;
};

const apiCheck: Check = (ref) => {
  if (ref.target === null) {
    if (isPackage(ref.specifier, "elysia") || TYPEBOX(ref.specifier)) return null;
    if (ref.specifier.startsWith("@elysiajs/")) return null;
    // The executor RPC family speaks YAML as well as JSON (seed-spec 1.1).
    if (ref.file === "src/api/executor/wire.ts" && isPackage(ref.specifier, "yaml")) return null;
    // The visualizer's browser script lays out its statecharts with elkjs.
    if (ref.file === "src/api/debug/client.ts" && isPackage(ref.specifier, "elkjs")) return null;
    return "src/api may import only elysia, @elysiajs/* and @sinclair/typebox from packages (and yaml in src/api/executor/wire.ts)";
  }
  const layer = layerOf(ref.target);
  if (["api", "errors", "protocol"].includes(layer)) return null;
  if (layer === "log") return ref.kind === "type" ? null : "value import from src/log (type only)";
  if (layer === "runtime") {
    if (ref.target !== "src/runtime/commands.ts") {
      return "src/api may import src/runtime only through src/runtime/commands";
    }
    return ref.kind === "type" ? null : "value import from src/runtime/commands (type only)";
  }
  return `src/api must not import ${nameOf(ref.target)}`;
};

const agentCheck: Check = (ref) => {
  if (ref.target === null) {
    const s = ref.specifier;
    // bun:sqlite keeps the agent's own ledger and outbox across its restarts; the
    // archive libraries (tar, yauzl) serve its build actions.
    const agentPackages = ["pino", "tar", "yauzl"];
    if (
      agentPackages.some((name) => isPackage(s, name)) ||
      TYPEBOX(s) ||
      s.startsWith("node:") ||
      s === "bun:sqlite" ||
      s.startsWith("@nats-io/")
    ) {
      return null;
    }
    return "agent/ may import only pino, @sinclair/typebox, node: modules, bun:sqlite, tar, yauzl and @nats-io/*";
  }
  const layer = layerOf(ref.target);
  if (layer === "agent" || layer === "protocol") return null;
  // The named error classes are a leaf module the agent shares with the engine.
  if (ref.target === "src/errors.ts") return null;
  if (layer === "bus") return ref.kind === "type" ? null : "value import from src/bus (type only)";
  return `agent/ must not import ${nameOf(ref.target)}`;
};

/** Concrete implementations that only the composition root wires together. */
const CONCRETE: readonly RegExp[] = [
  /^src\/store\/[^/]+-store\.ts$/,
  /^src\/bus\/[^/]+-bus\.ts$/,
  /^src\/bus\/index\.ts$/,
  /^src\/runtime\/engine\.ts$/,
  /^src\/api\/(index|app)\.ts$/,
  /^agent\/agent\.ts$/,
];

// ---------------------------------------------------------------------------
// Cycles
// ---------------------------------------------------------------------------

/** Strongly connected components with more than one file, or a file importing itself. */
function findCycles(): string[][] {
  const graph = new Map<string, Set<string>>();
  for (const file of FILES) graph.set(file, new Set());
  for (const ref of IMPORTS) {
    if (ref.target !== null && graph.has(ref.target)) graph.get(ref.file)?.add(ref.target);
  }
  // Tarjan, iterative.
  let index = 0;
  const indices = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const components: string[][] = [];
  for (const start of FILES) {
    if (indices.has(start)) continue;
    const work: { node: string; edges: string[]; next: number }[] = [];
    const enter = (node: string) => {
      indices.set(node, index);
      low.set(node, index);
      index += 1;
      stack.push(node);
      onStack.add(node);
      work.push({ node, edges: [...(graph.get(node) ?? [])].sort(), next: 0 });
    };
    enter(start);
    while (work.length > 0) {
      const frame = work[work.length - 1] as (typeof work)[number];
      if (frame.next < frame.edges.length) {
        const to = frame.edges[frame.next] as string;
        frame.next += 1;
        if (!indices.has(to)) enter(to);
        else if (onStack.has(to)) {
          low.set(frame.node, Math.min(low.get(frame.node) ?? 0, indices.get(to) ?? 0));
        }
        continue;
      }
      work.pop();
      const parent = work[work.length - 1];
      if (parent) {
        low.set(parent.node, Math.min(low.get(parent.node) ?? 0, low.get(frame.node) ?? 0));
      }
      if (low.get(frame.node) === indices.get(frame.node)) {
        const component: string[] = [];
        let member: string | undefined;
        do {
          member = stack.pop();
          if (member === undefined) break;
          onStack.delete(member);
          component.push(member);
        } while (member !== frame.node);
        const selfLoop = graph.get(frame.node)?.has(frame.node) ?? false;
        if (component.length > 1 || selfLoop) components.push(component.sort());
      }
    }
  }
  // One concrete cycle path per component (BFS from its first member back to itself).
  return components.map((component) => {
    const members = new Set(component);
    const first = component[0] as string;
    const previous = new Map<string, string>();
    const queue = [first];
    let closing: string | null = null;
    while (queue.length > 0 && closing === null) {
      const node = queue.shift() as string;
      for (const to of [...(graph.get(node) ?? [])].sort()) {
        if (!members.has(to)) continue;
        if (to === first) {
          closing = node;
          break;
        }
        if (!previous.has(to)) {
          previous.set(to, node);
          queue.push(to);
        }
      }
    }
    const path = [first];
    for (let node = closing; node !== null && node !== first; node = previous.get(node) ?? null) {
      path.splice(1, 0, node);
    }
    path.push(first);
    return path;
  });
}

function edgeDetail(from: string, to: string): string {
  const refs = IMPORTS.filter((r) => r.file === from && r.target === to);
  return refs.map((r) => `${r.file}:${r.line} [${r.kind}]`).join(", ");
}

// ---------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------

describe("import scanner", () => {
  const sample = [
    'import { type A } from "inline-type-only";',
    'import type { B } from "type-only";',
    'import C, { type D } from "value-with-type-member";',
    'import * as E from "namespace";',
    'import "side-effect";',
    'export type { F } from "export-type";',
    'export { type G } from "export-inline-type";',
    'export { H, type I } from "export-value";',
    'export * from "export-star";',
    'export type * as J from "export-type-star";',
    'type K = import("type-query").L;',
    'type M = typeof import("typeof-query");',
    "const s = \"import z from 'in-string'\";",
    "// import y from 'in-comment'",
    '/* export * from "in-block-comment" */',
    "const re = /import x from 'in-regex'/;",
    `const t = \`import q from "in-template" \${await import("in-template-expr")}\`;`,
    'async function f() { return import("dynamic"); }',
    'const r = require("required");',
    'import type from "default-named-type";',
    "import {",
    "  type N,",
    "  O,",
    '} from "multi-line";',
    "const meta = import.meta.url;",
  ].join("\n");
  const found = scanImports(sample);
  const bySpec = new Map(found.map((f) => [f.specifier, f]));

  it("classifies value and type-only imports", () => {
    expect(Object.fromEntries(found.map((f) => [f.specifier, f.kind]))).toEqual({
      "inline-type-only": "type",
      "type-only": "type",
      "value-with-type-member": "value",
      namespace: "value",
      "side-effect": "value",
      "export-type": "type",
      "export-inline-type": "type",
      "export-value": "value",
      "export-star": "value",
      "export-type-star": "type",
      "type-query": "type",
      "typeof-query": "type",
      "in-template-expr": "value",
      dynamic: "value",
      required: "value",
      "default-named-type": "value",
      "multi-line": "value",
    });
  });

  it("reports the line of each import", () => {
    expect(bySpec.get("multi-line")?.line).toBe(21);
    expect(bySpec.get("dynamic")?.line).toBe(18);
  });

  it("finds the same value imports as Bun's parser in every scanned file", () => {
    const transpiler = new Bun.Transpiler({ loader: "ts" });
    const mismatches: string[] = [];
    for (const [file, code] of SOURCES) {
      const bun = transpiler
        .scanImports(code.replace(/^#!.*/, ""))
        .map((i) => i.path)
        .sort();
      const ours = scanImports(code)
        .filter((i) => i.kind === "value")
        .map((i) => i.specifier)
        .sort();
      if (JSON.stringify([...new Set(bun)]) !== JSON.stringify([...new Set(ours)])) {
        mismatches.push(`${file}: bun=${JSON.stringify(bun)} scanner=${JSON.stringify(ours)}`);
      }
    }
    expect(mismatches, report("scanner disagrees with Bun.Transpiler", mismatches)).toEqual([]);
  });
});

describe("dependency directions (DESIGN.md §2)", () => {
  it("scans a non-empty tree", () => {
    for (const root of SCANNED_ROOTS) {
      expect(
        FILES.some((f) => f.startsWith(`${root}/`)),
        `no .ts files found under ${root}/`,
      ).toBe(true);
    }
    expect(IMPORTS.length).toBeGreaterThan(0);
  });

  it("every relative import resolves to a file", () => {
    const found = IMPORTS.filter((r) => r.unresolved).map(describeRef);
    expect(found, report("relative import does not resolve", found)).toEqual([]);
  });

  it("machines/ imports only xstate, machines/ and `import type` from src/protocol", () => {
    const found = violations(inLayer("machines"), machinesCheck);
    expect(found, report("machines/ must stay pure", found)).toEqual([]);
  });

  it("src/protocol imports only @sinclair/typebox and src/protocol", () => {
    const found = violations(inLayer("protocol"), protocolCheck);
    expect(found, report("src/protocol imports only TypeBox", found)).toEqual([]);
  });

  it("src/store and src/bus never import src/runtime or src/api", () => {
    const found = [
      ...violations(inLayer("store"), storeBusCheck("store")),
      ...violations(inLayer("bus"), storeBusCheck("bus")),
    ];
    expect(
      found,
      report(
        "src/store and src/bus import their drivers, their own folder, src/protocol, src/errors, src/log, src/clock",
        found,
      ),
    ).toEqual([]);
  });

  it("src/runtime imports store and bus only through their interfaces", () => {
    const found = violations(inLayer("runtime"), runtimeCheck);
    expect(
      found,
      report(
        "src/runtime imports machines, protocol, clock, log, errors, xstate, TypeBox; store/bus type-only (plus src/store/group-commit)",
        found,
      ),
    ).toEqual([]);
  });

  it("src/api imports only the engine's command/query interface, protocol and errors", () => {
    const found = violations(inLayer("api"), apiCheck);
    expect(
      found,
      report(
        "src/api never imports store, bus, xstate, machines or drizzle; runtime only as `import type` from src/runtime/commands",
        found,
      ),
    ).toEqual([]);
  });

  it("agent/ never imports machines/, src/runtime, src/api or src/store", () => {
    const found = violations(inLayer("agent"), agentCheck);
    expect(
      found,
      report(
        "agent/ imports src/protocol, src/bus (type-only), pino, TypeBox, node:, @nats-io/*",
        found,
      ),
    ).toEqual([]);
  });

  it("src/cli/ (the command-line client) talks to the engine over HTTP only", () => {
    const found = violations(
      (file) => file.startsWith("src/cli/"),
      (ref) =>
        ref.target === null || ref.target.startsWith("src/cli/")
          ? null
          : "src/cli/ imports only src/cli/ and packages (it never imports the engine)",
    );
    expect(found, report("the client is a separate program", found)).toEqual([]);
  });

  it("only src/main.ts wires concrete implementations together", () => {
    const found: string[] = [];
    // src/cli.ts only calls main and config (and formats their errors), or hands the
    // client commands to src/cli/index.ts.
    found.push(
      ...violations(
        (file) => file === "src/cli.ts",
        (ref) =>
          ref.target === null ||
          ["src/main.ts", "src/config.ts", "src/errors.ts", "src/cli/index.ts"].includes(ref.target)
            ? null
            : "src/cli.ts may import only src/main, src/config, src/errors and src/cli/index",
      ),
    );
    for (const file of FILES) {
      if (file === "src/main.ts") continue;
      const refs = IMPORTS.filter((r) => r.file === file && r.target !== null);
      const storeDriver = refs.find((r) => /^src\/store\/[^/]+-store\.ts$/.test(r.target ?? ""));
      const engine = refs.find((r) => r.target === "src/runtime/engine.ts");
      if (storeDriver && engine) {
        found.push(
          `${file}: imports both a store driver (${describeRef(storeDriver)}) and the engine (${describeRef(engine)})`,
        );
      }
      const own = layerOf(file);
      for (const ref of refs) {
        const target = ref.target as string;
        if (ref.kind !== "value" || layerOf(target) === own) continue;
        if (CONCRETE.some((re) => re.test(target))) {
          found.push(`${describeRef(ref)}: concrete implementation imported outside src/main.ts`);
        }
      }
    }
    expect(found, report("composition happens only in src/main.ts", found)).toEqual([]);
  });

  it("has no import cycles among machines/, src/ and agent/ (type-only imports included)", () => {
    const cycles = findCycles().map((path) => {
      const edges = path
        .slice(0, -1)
        .map(
          (from, i) =>
            `      ${from} → ${path[i + 1]}  (${edgeDetail(from, path[i + 1] as string)})`,
        );
      return `${path.join(" → ")}\n${edges.join("\n")}`;
    });
    expect(cycles, report("import cycle", cycles)).toEqual([]);
  });
});
