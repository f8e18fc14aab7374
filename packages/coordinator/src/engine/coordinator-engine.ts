import { Code, RuntimeError } from "@strata/runtime-core";
import type { CoordinatorEngine, CoordinatorEngineOptions } from "./types.js";

/**
 * Creates the coordinator engine: membership, failure detection, barriers, shard plans and
 * checkpoint records over a {@link CoordinatorStore}. Call `start()` before use.
 */
export function createCoordinatorEngine(_options: CoordinatorEngineOptions): CoordinatorEngine {
  throw new RuntimeError("coordinator engine is not implemented yet", { code: Code.Unimplemented });
}
