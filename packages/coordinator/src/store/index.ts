export type {
  CoordinatorStore,
  StoredCheckpointStep,
  StoredDataset,
  StoredShardPlan,
  StoredShardProgress,
  StoredState,
  StoredWorker,
  StoreOp,
} from "./coordinator-store.js";
export type { MemoryStore, MemoryStoreOptions } from "./memory-store.js";
export { createMemoryStore } from "./memory-store.js";
export type { SqliteStoreOptions } from "./sqlite-store.js";
export { createSqliteStore } from "./sqlite-store.js";
