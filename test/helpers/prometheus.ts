/**
 * Reads one sample out of the Prometheus text format: the value of `name` whose
 * labels are exactly `labels`, or undefined when there is none.
 */
export function sample(
  text: string,
  name: string,
  labels: Record<string, string> = {},
): number | undefined {
  for (const line of text.split("\n")) {
    if (line.startsWith("#")) continue;
    const match = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!match || match[1] !== name) continue;
    const found: Record<string, string> = {};
    for (const pair of (match[2] ?? "").matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) {
      found[pair[1] as string] = pair[2] as string;
    }
    const extra = Object.keys(found).filter((key) => !(key in labels));
    if (Object.entries(labels).every(([k, v]) => found[k] === v) && extra.length === 0) {
      return Number(match[3]);
    }
  }
  return undefined;
}
