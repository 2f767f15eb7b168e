export type {
  EngineApi,
  EngineCommands,
  EngineQueries,
  EngineStats,
  ListTasks,
  SubmitTask,
  TaskView,
} from "./commands";
export { Engine, type EngineDeps } from "./engine";
export type { EngineOptions } from "./engine-options";
