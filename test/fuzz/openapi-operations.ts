/**
 * The routes to fuzz, read from the running server's own OpenAPI document
 * (`GET /openapi/json`): a route added to the app is in it, so it is fuzzed without
 * anyone listing it here. Routes the app hides from the document (the families'
 * catch-alls, the visualizer's page) are reached by the fuzzer's random paths under
 * each family's prefix.
 */
import type { JsonSchema } from "./schema-arbitrary";

export interface Parameter {
  readonly name: string;
  readonly required: boolean;
  readonly schema: JsonSchema;
}

export interface Operation {
  /** `POST /tasks/{id}/pause` */
  readonly id: string;
  readonly method: string;
  /** The path with `{name}` placeholders, as the document writes it. */
  readonly template: string;
  readonly pathParams: readonly Parameter[];
  readonly query: readonly Parameter[];
  /** The body's schema (the JSON one when several types are listed), if it takes one. */
  readonly body: JsonSchema | undefined;
}

interface OpenApiParameter {
  name: string;
  in: string;
  required?: boolean;
  schema?: JsonSchema;
}

interface OpenApiOperation {
  parameters?: OpenApiParameter[];
  requestBody?: { content?: Record<string, { schema?: JsonSchema }> };
}

interface OpenApiDocument {
  paths: Record<string, Record<string, OpenApiOperation>>;
}

const METHODS = new Set(["get", "put", "post", "delete", "patch"]);

function placeholders(template: string): string[] {
  return [...template.matchAll(/\{([^}]+)\}/g)].map((match) => match[1] as string);
}

/** Every operation of the document at `url` (the server's base URL). */
export async function readOperations(url: string): Promise<Operation[]> {
  const response = await fetch(`${url}/openapi/json`);
  if (!response.ok) throw new Error(`GET /openapi/json answered ${response.status}`);
  const document = (await response.json()) as OpenApiDocument;
  const operations: Operation[] = [];
  for (const [template, item] of Object.entries(document.paths)) {
    for (const [method, operation] of Object.entries(item)) {
      if (!METHODS.has(method)) continue;
      const parameters = operation.parameters ?? [];
      const declared = new Map(
        parameters.filter((p) => p.in === "path").map((p) => [p.name, p] as const),
      );
      // A placeholder the document forgot to declare is fuzzed as a string all the same.
      const pathParams = placeholders(template).map((name) => ({
        name,
        required: true,
        schema: declared.get(name)?.schema ?? { type: "string" },
      }));
      const query = parameters
        .filter((p) => p.in === "query")
        .map((p) => ({ name: p.name, required: p.required ?? false, schema: p.schema ?? {} }));
      const content = operation.requestBody?.content ?? {};
      const bodyType =
        content["application/json"] ?? Object.values(content).find((c) => c.schema !== undefined);
      operations.push({
        id: `${method.toUpperCase()} ${template}`,
        method: method.toUpperCase(),
        template,
        pathParams,
        query,
        body: bodyType?.schema,
      });
    }
  }
  return operations;
}
