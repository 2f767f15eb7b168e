/**
 * The job engine's settings (seed-spec 4.10, 4.18): `POST /settings {name, setting}`
 * upserts one string; known names are parsed to whole numbers and checked. Kept
 * durable in one meta row.
 */
import { InvalidInputError } from "../errors";
import type { GroupCommitWriter } from "../store/group-commit";
import type { Store } from "../store/store";

const META_KEY = "jobs.settings";

/** Known settings, their defaults and bounds. */
export const KNOWN_SETTINGS = {
  max_jobs: { default: 2, min: 1, max: 10_000 },
  priority_slots: { default: 0, min: 0, max: 10_000 },
  priority_threshold: { default: 5, min: -1_000_000, max: 1_000_000 },
  /** Seconds between runs of queue_scheduled_jobs. */
  schedule_interval: { default: 60, min: 1, max: 86_400 },
  /** Seconds before a failed step runs again. */
  retry_delay: { default: 5, min: 0, max: 86_400 },
  retry_limit: { default: 3, min: 0, max: 100 },
} as const;
export type KnownSetting = keyof typeof KNOWN_SETTINGS;

const NAME = /^[A-Za-z0-9_.-]{1,100}$/;

export class JobSettings {
  private constructor(
    private readonly writer: Pick<GroupCommitWriter, "setMeta">,
    private readonly values: Map<string, string>,
  ) {}

  static async load(
    store: Pick<Store, "getMeta">,
    writer: Pick<GroupCommitWriter, "setMeta">,
  ): Promise<JobSettings> {
    const stored = await store.getMeta(META_KEY);
    const values = new Map<string, string>(
      stored ? Object.entries(JSON.parse(stored) as Record<string, string>) : [],
    );
    return new JobSettings(writer, values);
  }

  /** A known setting's number: the stored value, else its default. */
  number(name: KnownSetting): number {
    const raw = this.values.get(name);
    return raw === undefined ? KNOWN_SETTINGS[name].default : Number(raw);
  }

  /** Every setting, known ones with their defaults filled in. */
  all(): Record<string, string | number> {
    const out: Record<string, string | number> = {};
    for (const name of Object.keys(KNOWN_SETTINGS) as KnownSetting[]) out[name] = this.number(name);
    for (const [name, value] of this.values) if (!(name in KNOWN_SETTINGS)) out[name] = value;
    return out;
  }

  /**
   * Upserts one setting; `created` tells whether it is new. Durable once the writer
   * commits. A known setting must be a whole number within its bounds.
   */
  set(name: string, setting: string): { created: boolean } {
    if (typeof name !== "string" || !NAME.test(name)) {
      throw new InvalidInputError("name must be 1 to 100 letters, digits, _ . -", "name");
    }
    if (typeof setting !== "string" && typeof setting !== "number") {
      throw new InvalidInputError("setting must be a string", "setting");
    }
    const text = String(setting).trim();
    const known = (KNOWN_SETTINGS as Record<string, { min: number; max: number }>)[name];
    if (known) {
      const value = Number(text);
      if (!/^-?\d+$/.test(text) || value < known.min || value > known.max) {
        throw new InvalidInputError(
          `setting for ${name} must be a whole number from ${known.min} to ${known.max}`,
          "setting",
        );
      }
    }
    const created = !this.values.has(name);
    this.values.set(name, text);
    this.writer.setMeta(META_KEY, JSON.stringify(Object.fromEntries(this.values)));
    return { created };
  }
}
