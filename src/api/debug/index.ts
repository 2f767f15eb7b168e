export type { DebugSource } from "./debug-source";
export { debugRoutes } from "./routes";
