export { type JobsRoutesOptions, jobsRoutes } from "./routes";
