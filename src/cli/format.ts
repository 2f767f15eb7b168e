/** Human output: aligned tables, short times, durations. */

/** Columns padded to their widest cell, two spaces apart; the last column is not padded. */
export function table(headers: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = headers.map((header, i) =>
    Math.max(header.length, ...rows.map((row) => (row[i] ?? "").length)),
  );
  const line = (cells: readonly string[]) =>
    cells
      .map((cell, i) => (i === cells.length - 1 ? cell : cell.padEnd(widths[i] ?? 0)))
      .join("  ")
      .trimEnd();
  return `${[line(headers), ...rows.map(line)].join("\n")}\n`;
}

/** `key  value` lines, keys aligned. */
export function keyValues(pairs: readonly (readonly [string, string])[]): string {
  const width = Math.max(0, ...pairs.map(([key]) => key.length));
  const lines = pairs.map(([key, value]) => `${key.padEnd(width)}  ${value}`.trimEnd());
  return `${lines.join("\n")}\n`;
}

/** An ISO time as `YYYY-MM-DD HH:MM:SS` (UTC), or `-`. */
export function shortTime(iso: string | null | undefined): string {
  if (!iso) return "-";
  const ms = Date.parse(iso);
  if (Number.isNaN(ms)) return iso;
  return new Date(ms).toISOString().slice(0, 19).replace("T", " ");
}

/** Epoch ms or an ISO string as `HH:MM:SS.mmm` (UTC). */
export function clockTime(at: unknown): string {
  const ms = typeof at === "number" ? at : typeof at === "string" ? Date.parse(at) : Number.NaN;
  if (Number.isNaN(ms)) return String(at ?? "-");
  return new Date(ms).toISOString().slice(11, 23);
}

/** 1.2s, 3m04s, 2h05m. */
export function duration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return "-";
  const s = ms / 1000;
  if (s < 10) return `${s.toFixed(1)}s`;
  if (s < 60) return `${Math.round(s)}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m${String(Math.round(s % 60)).padStart(2, "0")}s`;
  return `${Math.floor(m / 60)}h${String(m % 60).padStart(2, "0")}m`;
}

export function truncate(text: string, max: number): string {
  const oneLine = text.replace(/\s*\n\s*/g, " ");
  return oneLine.length > max ? `${oneLine.slice(0, max - 1)}…` : oneLine;
}

export const orDash = (value: string | null | undefined) =>
  value === null || value === undefined || value === "" ? "-" : value;

/** `k=v,k2=v2` as sorted text, or `-`. */
export function labelText(labels: Readonly<Record<string, string>> | undefined): string {
  const entries = Object.entries(labels ?? {}).sort(([a], [b]) => a.localeCompare(b));
  return entries.length === 0 ? "-" : entries.map(([k, v]) => `${k}=${v}`).join(",");
}

export function json(value: unknown): string {
  return `${JSON.stringify(value, null, 2)}\n`;
}
