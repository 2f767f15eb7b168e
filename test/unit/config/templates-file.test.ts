import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { BUILT_IN_TEMPLATES } from "../../../src/api/hosttask";
import { loadConfig } from "../../../src/config";
import { loadTemplates } from "../../../src/main";
import { tempDir } from "../../helpers/engine";

const dir = tempDir("fw-templates-");
const config = (file: string) => loadConfig({ FW_DATA_DIR: dir, FW_TEMPLATES_FILE: file });

describe("host task templates from a file", () => {
  it("adds the file's templates to the built-in ones", () => {
    const file = join(dir, "templates.yaml");
    writeFileSync(
      file,
      [
        "- id: 100",
        "  name: Warm cache",
        "  description: Runs the cache warmer",
        "  actions:",
        "    - actionType: Warm the cache",
        "      type: exec",
        "      fixedParams: { command: ./warm.sh }",
        "      params:",
        "        - { name: level, kind: number, required: false, default: 1 }",
      ].join("\n"),
    );
    let templates: ReturnType<typeof loadTemplates> | undefined;
    try {
      templates = loadTemplates(config(file));
    } catch (error) {
      // The file's shape is the templates schema's; show why if it refuses.
      throw new Error(`refused: ${(error as Error).message}`);
    }
    expect(templates.map((t) => t.id)).toEqual([...BUILT_IN_TEMPLATES.map((t) => t.id), 100]);
  });

  it("refuses a file that reuses a built-in id, or is not a list", () => {
    const clash = join(dir, "clash.json");
    writeFileSync(clash, JSON.stringify([{ ...BUILT_IN_TEMPLATES[0] }]));
    expect(() => loadTemplates(config(clash))).toThrow(/task template 1 is listed twice/);
    const notList = join(dir, "not-list.json");
    writeFileSync(notList, JSON.stringify({ id: 1 }));
    expect(() => loadTemplates(config(notList))).toThrow(/must hold a list/);
    expect(() => loadTemplates(config(join(dir, "missing.json")))).toThrow(/cannot read/);
  });
});
