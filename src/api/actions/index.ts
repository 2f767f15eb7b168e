export type { XinaTask } from "./present";
export { type XinaReply, xinaActions } from "./routes";
