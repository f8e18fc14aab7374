import { type DatasetSpec, ManualClock, RuntimeError } from "@strata/runtime-core";
import {
  type CoordinatorEngine,
  type CoordinatorEngineOptions,
  createCoordinatorEngine,
} from "../../src/engine/index.js";
import { createMemoryStore } from "../../src/store/index.js";

export const T0 = 1_700_000_000_000;

export interface Harness {
  engine: CoordinatorEngine;
  clock: ManualClock;
  store: ReturnType<typeof createMemoryStore>;
}

/** An engine over a memory store and a manual clock, started. */
export async function startEngine(
  options: Partial<CoordinatorEngineOptions> & {
    store?: ReturnType<typeof createMemoryStore>;
  } = {},
): Promise<Harness> {
  const clock = (options.clock as ManualClock | undefined) ?? new ManualClock(T0);
  const store = options.store ?? createMemoryStore();
  const engine = createCoordinatorEngine({ heartbeatTimeoutMs: 15_000, ...options, clock, store });
  await engine.start();
  return { engine, clock, store };
}

export function workerInput(workerId: string) {
  return {
    workerId,
    hostname: `${workerId}.local`,
    port: 7000,
    gpuCount: 8,
    memoryBytes: 1 << 30,
    metadata: { zone: "a" },
  };
}

export async function registerAll(engine: CoordinatorEngine, ids: readonly string[]) {
  const out = [];
  for (const id of ids) out.push(await engine.registerWorker(workerInput(id)));
  return out;
}

/** Heartbeats every listed worker once. */
export function beatAll(engine: CoordinatorEngine, ids: readonly string[]): void {
  for (const id of ids) engine.heartbeat({ workerId: id });
}

export function dataset(overrides: Partial<DatasetSpec> = {}): DatasetSpec {
  return {
    datasetId: "ds",
    path: "s3://bucket/ds",
    format: "parquet",
    totalSamples: 1_000,
    shardSize: 10,
    shuffle: true,
    seed: 42n,
    metadata: {},
    ...overrides,
  };
}

/** The RuntimeError a promise rejects with (fails the test if it resolves). */
export async function rejection(promise: Promise<unknown>): Promise<RuntimeError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof RuntimeError) return error;
    throw error;
  }
  throw new Error("expected a rejection");
}

/** The RuntimeError a function throws. */
export function thrown(fn: () => unknown): RuntimeError {
  try {
    fn();
  } catch (error) {
    if (error instanceof RuntimeError) return error;
    throw error;
  }
  throw new Error("expected a throw");
}

/** Lets queued promise callbacks run. */
export async function flushMicrotasks(): Promise<void> {
  for (let i = 0; i < 5; i++) await Promise.resolve();
}
