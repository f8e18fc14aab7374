/**
 * The coordinator's gRPC contract, generated from `coordinator.proto` by ts-proto
 * (`outputServices=grpc-js`, `forceLong=bigint`): every int64 field is a `bigint`, so step
 * counters and byte sizes never lose precision. Servers add `CoordinatorService` to a grpc-js
 * `Server`; clients construct `CoordinatorClient`.
 */
export * from "./gen/coordinator.js";

/** The fully qualified service name, as it appears in method paths (`/coordinator.Coordinator/Heartbeat`). */
export const COORDINATOR_SERVICE_NAME = "coordinator.Coordinator";
