import { EmbeddedBus } from "../../../src/bus";
import { busContract } from "./bus-contract";

busContract("embedded", async () => {
  const bus = new EmbeddedBus();
  return { bus, cleanup: () => bus.close() };
});
