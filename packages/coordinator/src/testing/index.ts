/**
 * `@strata/coordinator/testing`: a real coordinator process for tests, benchmarks and examples
 * (kill -9, restarts, exit codes), started on free ports.
 */
export {
  COORDINATOR_BIN,
  type CoordinatorProcess,
  type CoordinatorProcessOptions,
  startCoordinatorProcess,
} from "./coordinator-process.js";
