import { describe, expect, it } from "vitest";
import { loadConfig } from "../../../src/config";
import { ConfigError } from "../../../src/errors";

describe("FW_METRICS_OPEN", () => {
  it("keeps /metrics behind a key unless it is 1", () => {
    expect(loadConfig({}).metricsOpen).toBe(false);
    expect(loadConfig({ FW_METRICS_OPEN: "0" }).metricsOpen).toBe(false);
    expect(loadConfig({ FW_METRICS_OPEN: "1" }).metricsOpen).toBe(true);
  });

  it("refuses anything but 1 or 0 with one clear line", () => {
    expect(() => loadConfig({ FW_METRICS_OPEN: "yes" })).toThrow(ConfigError);
    expect(() => loadConfig({ FW_METRICS_OPEN: "yes" })).toThrow(
      'FW_METRICS_OPEN must be 1 or 0, got "yes"',
    );
  });
});
