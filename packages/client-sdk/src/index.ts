export type { CoordinatorClientOptions } from "./create-coordinator-client.js";
export { bearerTokenInterceptor, createCoordinatorClient } from "./create-coordinator-client.js";
