/**
 * The pieces the soak's verdicts rest on, checked on inputs with a known answer: a
 * leak must show as a trend and a sawtooth must not, and every error line must be
 * counted however the pipe cuts the output into chunks.
 */
import { PassThrough } from "node:stream";
import { describe, expect, it } from "vitest";
import { LogLineCounter } from "./log-lines";
import { leastSquaresSlope } from "./trend";

const MiB = 2 ** 20;

describe("the RSS trend", () => {
  it("finds a steady growth under a collector's sawtooth", () => {
    // 2 MiB a minute for 10 minutes, sampled every 5 s, with a 30 MiB sawtooth on top.
    const points = Array.from({ length: 120 }, (_, i) => {
      const minutes = (i * 5) / 60;
      return { x: minutes, y: 200 * MiB + 2 * MiB * minutes + ((i % 6) * 6 - 15) * MiB };
    });
    expect(leastSquaresSlope(points) / MiB).toBeCloseTo(2, 0);
  });

  it("calls a sawtooth without growth flat, whatever sample it ends on", () => {
    const points = Array.from({ length: 121 }, (_, i) => ({
      x: i,
      y: 200 * MiB + (i % 12 === 0 ? -30 : 0) * MiB,
    }));
    expect(Math.abs(leastSquaresSlope(points) / MiB)).toBeLessThan(0.01);
  });

  it("refuses to fit fewer than two samples", () => {
    expect(() => leastSquaresSlope([{ x: 0, y: 1 }])).toThrow(/at least 2 samples/);
  });
});

describe("counting a process's log lines", () => {
  it("counts error and fatal lines and anything that is not pino JSON, across chunk cuts", async () => {
    const counter = new LogLineCounter();
    const stdout = new PassThrough();
    const stderr = new PassThrough();
    counter.follow(stdout);
    counter.follow(stderr);
    const text = [
      '{"level":30,"msg":"started"}',
      '{"level":40,"msg":"slow"}',
      '{"level":50,"msg":"store failed"}',
      '{"level":60,"msg":"dying"}',
    ].join("\n");
    // Cut mid-line, as a pipe may.
    stdout.write(text.slice(0, 40));
    stderr.write("TypeError: x is not a function\n    at <anonymous>\n");
    stdout.write(`${text.slice(40)}\n`);
    stdout.end();
    stderr.end();
    await Promise.all([
      new Promise((resolve) => stdout.on("end", resolve)),
      new Promise((resolve) => stderr.on("end", resolve)),
    ]);
    const counts = counter.counts();
    expect(counts).toMatchObject({ lines: 6, warn: 1, error: 2, unstructured: 2 });
    expect(counts.samples).toHaveLength(4);
  });

  it("counts a last line that has no newline", async () => {
    const counter = new LogLineCounter();
    const stream = new PassThrough();
    counter.follow(stream);
    stream.end('{"level":50,"msg":"last words"}');
    await new Promise((resolve) => stream.on("end", resolve));
    expect(counter.counts().error).toBe(1);
  });
});
