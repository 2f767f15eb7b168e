export type {
  Bus,
  BusMessage,
  MessageHandler,
  RequestOptions,
  SubscribeOptions,
  Subscription,
} from "./bus";
export { EmbeddedBus, type EmbeddedBusOptions } from "./embedded-bus";
export { NatsBus, type NatsBusOptions } from "./nats-bus";
export { DEFAULT_REQUEST_TIMEOUT_MS } from "./request-timeout";
export {
  isValidPattern,
  isValidQueueName,
  isValidSubject,
  SubjectIndex,
  type SubjectIndexOptions,
} from "./subject";
