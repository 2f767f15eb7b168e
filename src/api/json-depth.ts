/**
 * A depth limit for the JSON bodies Elysia parses and validates (the native and
 * periodic routes), checked before their schemas are.
 *
 * Why: when a body fails its schema, Elysia builds its validation error by
 * pretty-printing the whole value it refuses, which costs time and memory quadratic in
 * the value's depth. A 20 KB body nested 10,000 deep held the engine's one thread for
 * 1.6 s, and one nested 100,000 deep overflowed the stack (a 500). No body of any of
 * the APIs needs more than a few levels; user data inside one (an action's params)
 * gets MAX_JSON_DEPTH.
 */
import { Elysia } from "elysia";
import { InvalidInputError } from "../errors";

/** How deep a body's arrays and objects may nest. @default 64 */
export const MAX_JSON_DEPTH = 64;

/** Whether `value` nests deeper than `max` (counted without recursion: no stack to blow). */
export function nestsDeeperThan(value: unknown, max: number): boolean {
  const pending: [unknown, number][] = [[value, 0]];
  for (let next = pending.pop(); next !== undefined; next = pending.pop()) {
    const [item, depth] = next;
    if (typeof item !== "object" || item === null) continue;
    if (depth >= max) return true;
    for (const child of Array.isArray(item) ? item : Object.values(item)) {
      if (typeof child === "object" && child !== null) pending.push([child, depth + 1]);
    }
  }
  return false;
}

/** Refuses (400 in the family's shape, as bad input) a parsed body nested too deep. */
export function jsonDepthLimit(max = MAX_JSON_DEPTH) {
  return new Elysia({ name: "json-depth" }).onTransform({ as: "global" }, ({ body }) => {
    if (nestsDeeperThan(body, max)) {
      throw new InvalidInputError(`body: arrays and objects may nest at most ${max} deep`, "body");
    }
  });
}
