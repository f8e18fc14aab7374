export type { CreateStorageOptions } from "./create-storage.js";
export { createStorage } from "./create-storage.js";
export type { LocalPutEntry, LocalStorageOptions, PutManyOptions } from "./local-storage.js";
export { createLocalStorage, LocalStorage } from "./local-storage.js";
export type { MemoryStorageOptions } from "./memory-storage.js";
export { compareKeys, createMemoryStorage, MemoryStorage, resolveRange } from "./memory-storage.js";
export type {
  ByteRange,
  GetOptions,
  ListOptions,
  ObjectInfo,
  PutBody,
  PutOptions,
  StorageBackend,
} from "./storage-backend.js";
export {
  MAX_KEY_BYTES,
  RESERVED_SEGMENT_PREFIX,
  validateKey,
  validatePrefix,
} from "./validate-key.js";
