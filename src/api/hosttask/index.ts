/** The host task API family (i3D ODP task system, spec section 2). */
export { type ErrorBody, type FieldError, HostTaskErrorCode } from "./errors";
export { hostTaskApi } from "./routes";
export {
  BUILT_IN_TEMPLATES,
  checkTemplates,
  ParamKind,
  TaskTemplate,
  TaskTemplatesFile,
  TemplateAction,
  TemplateParam,
} from "./templates";
export { CATEGORY_ID, ResultCode, type TaskBatchStatus, type TaskStatus } from "./views";
