export { type App, type AppOptions, createApp } from "./app";
export { type ApiKey, ApiKeys } from "./auth";
