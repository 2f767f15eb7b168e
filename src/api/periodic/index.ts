export type {
  PeriodicApi,
  PeriodicCreate,
  PeriodicLatest,
  PeriodicOutput,
  PeriodicReport,
  PeriodicRun,
  PeriodicSchedule,
  PeriodicSelector,
} from "./periodic-api";
export { periodicRoutes } from "./routes";
