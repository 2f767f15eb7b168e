/**
 * Which API family a path belongs to. Each family answers its errors in its own shape;
 * a refusal made before a request reaches its route (a body over the limit, a client
 * over its rate) is answered in the shape of the family whose path it is.
 */

export const ApiFamily = {
  Native: "native",
  HostTask: "hosttask",
  Xina: "xina",
  Periodic: "periodic",
  Executor: "executor",
  Jobs: "jobs",
} as const;
export type ApiFamily = (typeof ApiFamily)[keyof typeof ApiFamily];

/**
 * Paths of the families other than the native one. Everything else, unknown routes
 * included, is the native API's.
 */
const FAMILY_PREFIXES: readonly (readonly [string, ApiFamily])[] = [
  ["/v3/", ApiFamily.HostTask],
  ["/xina/", ApiFamily.Xina],
  ["/api/v1/", ApiFamily.Periodic],
  ["/rpc", ApiFamily.Executor],
  ["/job", ApiFamily.Jobs],
  ["/logs/", ApiFamily.Jobs],
  ["/health", ApiFamily.Jobs],
  ["/dashboard", ApiFamily.Jobs],
  ["/schedules", ApiFamily.Jobs],
  ["/scheduler", ApiFamily.Jobs],
  ["/settings", ApiFamily.Jobs],
  ["/workflows", ApiFamily.Jobs],
];

/** The family of a URL's path (`/tasks/1` → native, `/rpc` → executor). */
export function familyOf(url: string): ApiFamily {
  const path = new URL(url).pathname;
  for (const [prefix, family] of FAMILY_PREFIXES) {
    if (path.startsWith(prefix)) return family;
  }
  return ApiFamily.Native;
}
