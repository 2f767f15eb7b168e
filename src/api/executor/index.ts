export { executorRpc } from "./routes";
