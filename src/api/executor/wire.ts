/**
 * The RPC wire formats (seed-spec 1.1): a body is JSON or YAML by its content-type,
 * and the answer is YAML when `accept` asks for it, JSON otherwise.
 */
import { parse as parseYaml, stringify as stringifyYaml } from "yaml";
import { RpcError } from "./errors";

const YAML_TYPES = /\b(text|application)\/(x-)?yaml\b/i;

export function isYaml(header: string | null): boolean {
  return header !== null && YAML_TYPES.test(header);
}

/** The body's value; a body that does not parse is a 422 naming the format. */
export function decode(text: string, contentType: string | null): unknown {
  if (text.trim() === "") throw new RpcError(422, "the body is empty: send {method, params}");
  if (isYaml(contentType)) {
    try {
      // One document, plain data: no custom tags, no aliases bombs.
      return parseYaml(text, { maxAliasCount: 100 });
    } catch (error) {
      const message = error instanceof Error ? error.message.split("\n")[0] : String(error);
      throw new RpcError(422, `the body is not valid YAML: ${message}`);
    }
  }
  try {
    return JSON.parse(text);
  } catch {
    throw new RpcError(
      422,
      "the body is not valid JSON (send content-type: text/yaml for a YAML body)",
    );
  }
}

export function encode(value: unknown, accept: string | null): { body: string; type: string } {
  if (isYaml(accept)) return { body: stringifyYaml(value), type: "text/yaml; charset=utf-8" };
  return { body: JSON.stringify(value), type: "application/json" };
}
