import {
  type CheckpointKind,
  type CheckpointRecord,
  Code,
  RuntimeError,
  type WorkerState,
} from "@strata/runtime-core";
import Database from "libsql";
import type {
  StoredBarrierRelease,
  StoredCheckpointStep,
  StoredDataset,
  StoredRecord,
  StoredShardPlan,
  StoredShardProgress,
  StoredState,
  StoredWorker,
  StoreOp,
} from "./coordinator-store.js";

/** How an opened coordinator database commits. */
export interface CoordinatorDatabaseOptions {
  /** The database file, or `:memory:`. SQLite adds `-wal` and `-shm` files next to it. */
  path: string;
  /** SQLite `synchronous` level; see `SqliteStoreOptions.synchronous`. Default `"full"`. */
  synchronous?: "full" | "normal";
}

/**
 * The coordinator's SQLite database, synchronous (the `libsql` / better-sqlite3 API). The store
 * runs it on a worker thread (`sqlite-store-worker.ts`) so commits never block the event loop;
 * this file holds the schema, the migrations and the SQL.
 */
export interface CoordinatorDatabase {
  /** Reads the whole state. */
  readAll(): StoredState;
  /**
   * Applies `ops` in one transaction, all or nothing. A batch of only heartbeat liveness skips
   * the fsync (see `commit`'s body). Throws `RuntimeError(Unavailable)` on failure.
   */
  commit(ops: readonly StoreOp[]): void;
  close(): void;
}

/** The schema version this code writes. Each migration below moves from version i to i+1. */
const MIGRATIONS: readonly string[] = [
  `
  CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
  CREATE TABLE workers (
    worker_id TEXT PRIMARY KEY,
    hostname TEXT NOT NULL,
    port INTEGER NOT NULL,
    gpu_count INTEGER NOT NULL,
    memory_bytes INTEGER NOT NULL,
    metadata_json TEXT NOT NULL,
    rank INTEGER NOT NULL,
    incarnation INTEGER NOT NULL,
    status TEXT NOT NULL,
    state TEXT NOT NULL,
    registered_at_ms INTEGER NOT NULL,
    last_heartbeat_ms INTEGER NOT NULL,
    current_step INTEGER NOT NULL,
    current_epoch INTEGER NOT NULL,
    current_task TEXT NOT NULL
  );
  CREATE TABLE datasets (
    dataset_id TEXT PRIMARY KEY,
    path TEXT NOT NULL,
    format TEXT NOT NULL,
    total_samples INTEGER NOT NULL,
    shard_size INTEGER NOT NULL,
    shuffle INTEGER NOT NULL,
    seed TEXT NOT NULL,
    metadata_json TEXT NOT NULL,
    total_shards INTEGER NOT NULL,
    registered_at_ms INTEGER NOT NULL
  );
  CREATE TABLE shard_progress (
    dataset_id TEXT NOT NULL,
    epoch INTEGER NOT NULL,
    shard_id INTEGER NOT NULL,
    consumed_json TEXT NOT NULL,
    owner_worker_id TEXT NOT NULL,
    PRIMARY KEY (dataset_id, epoch, shard_id)
  );
  CREATE TABLE checkpoint_steps (
    job_id TEXT NOT NULL,
    step INTEGER NOT NULL,
    epoch INTEGER NOT NULL,
    expected_ranks_json TEXT NOT NULL,
    complete INTEGER NOT NULL,
    created_at_ms INTEGER NOT NULL,
    completed_at_ms INTEGER NOT NULL,
    PRIMARY KEY (job_id, step)
  );
  CREATE TABLE checkpoints (
    job_id TEXT NOT NULL,
    step INTEGER NOT NULL,
    rank INTEGER NOT NULL,
    worker_id TEXT NOT NULL,
    checkpoint_id TEXT NOT NULL,
    epoch INTEGER NOT NULL,
    storage_path TEXT NOT NULL,
    size_bytes INTEGER NOT NULL,
    kind TEXT NOT NULL,
    recorded_at_ms INTEGER NOT NULL,
    metadata_json TEXT NOT NULL,
    PRIMARY KEY (job_id, step, rank)
  );
  `,
  `
  CREATE TABLE records (
    kind TEXT NOT NULL,
    id TEXT NOT NULL,
    json TEXT NOT NULL,
    PRIMARY KEY (kind, id)
  );
  `,
  `
  CREATE TABLE barrier_releases (
    barrier_id TEXT PRIMARY KEY,
    generation INTEGER NOT NULL,
    step INTEGER NOT NULL,
    participants_json TEXT NOT NULL,
    released_at_ms INTEGER NOT NULL,
    membership_version INTEGER NOT NULL
  );
  `,
];

type Row = Record<string, unknown>;
type Db = InstanceType<typeof Database>;

/** Opens (creating and migrating if needed) the coordinator database in WAL mode. */
export function openCoordinatorDatabase(options: CoordinatorDatabaseOptions): CoordinatorDatabase {
  let db: Db;
  const fullSync = options.synchronous !== "normal";
  try {
    db = new Database(options.path);
    db.pragma("journal_mode = WAL");
    db.pragma(`synchronous = ${fullSync ? "FULL" : "NORMAL"}`);
    db.pragma("foreign_keys = OFF");
    db.pragma("busy_timeout = 5000");
    migrate(db);
  } catch (error) {
    if (error instanceof RuntimeError) throw error;
    throw new RuntimeError(`cannot open coordinator database "${options.path}"`, {
      code: Code.Unavailable,
      cause: error,
    });
  }

  const stmt = {
    putWorker: db.prepare(
      `INSERT INTO workers (worker_id, hostname, port, gpu_count, memory_bytes, metadata_json, rank,
         incarnation, status, state, registered_at_ms, last_heartbeat_ms, current_step, current_epoch, current_task)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (worker_id) DO UPDATE SET hostname = excluded.hostname, port = excluded.port,
         gpu_count = excluded.gpu_count, memory_bytes = excluded.memory_bytes,
         metadata_json = excluded.metadata_json, rank = excluded.rank, incarnation = excluded.incarnation,
         status = excluded.status, state = excluded.state, registered_at_ms = excluded.registered_at_ms,
         last_heartbeat_ms = excluded.last_heartbeat_ms, current_step = excluded.current_step,
         current_epoch = excluded.current_epoch, current_task = excluded.current_task`,
    ),
    // One statement for a whole batch of heartbeats: the rows travel as one JSON array, which
    // costs far fewer native calls than one UPDATE per worker.
    putLiveness: db.prepare(
      `UPDATE workers SET state = j.value ->> 1, last_heartbeat_ms = j.value ->> 2,
         current_step = j.value ->> 3, current_epoch = j.value ->> 4, current_task = j.value ->> 5
       FROM json_each(?) AS j WHERE workers.worker_id = j.value ->> 0`,
    ),
    deleteWorker: db.prepare("DELETE FROM workers WHERE worker_id = ?"),
    setMeta: db.prepare(
      "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
    ),
    putDataset: db.prepare(
      `INSERT OR REPLACE INTO datasets (dataset_id, path, format, total_samples, shard_size, shuffle, seed,
         metadata_json, total_shards, registered_at_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    ),
    putProgress: db.prepare(
      `INSERT OR REPLACE INTO shard_progress (dataset_id, epoch, shard_id, consumed_json, owner_worker_id)
       VALUES (?, ?, ?, ?, ?)`,
    ),
    deleteProgressBefore: db.prepare(
      "DELETE FROM shard_progress WHERE dataset_id = ? AND epoch < ?",
    ),
    deleteProgressFrom: db.prepare(
      "DELETE FROM shard_progress WHERE dataset_id = ? AND epoch >= ?",
    ),
    putStep: db.prepare(
      `INSERT OR REPLACE INTO checkpoint_steps (job_id, step, epoch, expected_ranks_json, complete, created_at_ms,
         completed_at_ms) VALUES (?, ?, ?, ?, ?, ?, ?)`,
    ),
    putCheckpoint: db.prepare(
      `INSERT OR REPLACE INTO checkpoints (job_id, step, rank, worker_id, checkpoint_id, epoch, storage_path,
         size_bytes, kind, recorded_at_ms, metadata_json) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    ),
    putRelease: db.prepare(
      `INSERT OR REPLACE INTO barrier_releases (barrier_id, generation, step, participants_json,
         released_at_ms, membership_version) VALUES (?, ?, ?, ?, ?, ?)`,
    ),
    deleteRelease: db.prepare("DELETE FROM barrier_releases WHERE barrier_id = ?"),
    putRecord: db.prepare("INSERT OR REPLACE INTO records (kind, id, json) VALUES (?, ?, ?)"),
    deleteRecord: db.prepare("DELETE FROM records WHERE kind = ? AND id = ?"),
    deleteStep: db.prepare("DELETE FROM checkpoint_steps WHERE job_id = ? AND step = ?"),
    deleteStepRecords: db.prepare("DELETE FROM checkpoints WHERE job_id = ? AND step = ?"),
  };

  function runOne(op: StoreOp): void {
    switch (op.t) {
      case "put_worker": {
        const w = op.worker;
        stmt.putWorker.run(
          w.workerId,
          w.hostname,
          w.port,
          w.gpuCount,
          w.memoryBytes,
          JSON.stringify(w.metadata),
          w.rank,
          w.incarnation,
          w.status,
          w.state,
          w.registeredAtMs,
          w.lastHeartbeatMs,
          w.currentStep,
          w.currentEpoch,
          w.currentTask,
        );
        return;
      }
      case "put_liveness":
        // Batched by runBatch; never reaches here.
        return;
      case "delete_worker":
        stmt.deleteWorker.run(op.workerId);
        return;
      case "set_membership_version":
        stmt.setMeta.run("membership_version", String(op.version));
        return;
      case "put_dataset": {
        const { spec } = op.dataset;
        stmt.putDataset.run(
          spec.datasetId,
          spec.path,
          spec.format,
          spec.totalSamples,
          spec.shardSize,
          spec.shuffle ? 1 : 0,
          spec.seed.toString(),
          JSON.stringify(spec.metadata),
          op.dataset.totalShards,
          op.dataset.registeredAtMs,
        );
        return;
      }
      case "put_shard_progress": {
        const p = op.progress;
        stmt.putProgress.run(
          p.datasetId,
          p.epoch,
          p.shardId,
          JSON.stringify(p.consumed),
          p.ownerWorkerId,
        );
        return;
      }
      case "put_shard_plan":
        // Kept in the key-value meta table: one row per dataset, no schema change needed.
        stmt.setMeta.run(`${SHARD_PLAN_META_PREFIX}${op.plan.datasetId}`, op.plan.plan);
        return;
      case "delete_shard_progress_before":
        stmt.deleteProgressBefore.run(op.datasetId, op.beforeEpoch);
        return;
      case "delete_shard_progress_from":
        stmt.deleteProgressFrom.run(op.datasetId, op.fromEpoch);
        return;
      case "put_checkpoint_step": {
        const s = op.step;
        stmt.putStep.run(
          s.jobId,
          s.step,
          s.epoch,
          JSON.stringify(s.expectedRanks),
          s.complete ? 1 : 0,
          s.createdAtMs,
          s.completedAtMs,
        );
        return;
      }
      case "put_checkpoint": {
        const c = op.record;
        stmt.putCheckpoint.run(
          c.jobId,
          c.step,
          c.rank,
          c.workerId,
          c.checkpointId,
          c.epoch,
          c.storagePath,
          c.sizeBytes,
          c.kind,
          c.recordedAtMs,
          JSON.stringify(c.metadata),
        );
        return;
      }
      case "delete_checkpoint_step":
        stmt.deleteStep.run(op.jobId, op.step);
        stmt.deleteStepRecords.run(op.jobId, op.step);
        return;
      case "put_record":
        stmt.putRecord.run(op.record.kind, op.record.id, op.record.json);
        return;
      case "delete_record":
        stmt.deleteRecord.run(op.kind, op.id);
        return;
      case "put_barrier_release": {
        const r = op.release;
        stmt.putRelease.run(
          r.barrierId,
          r.generation,
          r.step,
          JSON.stringify(r.participants),
          r.releasedAtMs,
          r.membershipVersion,
        );
        return;
      }
      case "delete_barrier_release":
        stmt.deleteRelease.run(op.barrierId);
        return;
    }
  }

  const runBatch = db.transaction((ops: readonly StoreOp[]) => {
    // Consecutive liveness rows go out as one statement, flushed before any other op so the
    // order of ops is kept.
    let liveness: unknown[][] = [];
    const flushLiveness = () => {
      if (liveness.length === 0) return;
      stmt.putLiveness.run(JSON.stringify(liveness));
      liveness = [];
    };
    for (const op of ops) {
      if (op.t === "put_liveness") {
        liveness.push([
          op.workerId,
          op.state,
          op.lastHeartbeatMs,
          op.currentStep,
          op.currentEpoch,
          op.currentTask,
        ]);
        continue;
      }
      flushLiveness();
      runOne(op);
    }
    flushLiveness();
  });

  return {
    readAll: () => readAll(db),
    commit(ops) {
      if (ops.length === 0) return;
      // A batch of nothing but heartbeat liveness skips the fsync (synchronous=NORMAL for that
      // one commit): liveness is advisory after a restart (workers get a grace period anyway),
      // and the next FULL commit makes it durable too. Every other batch is fsynced.
      const livenessOnly = fullSync && ops.every((op) => op.t === "put_liveness");
      try {
        if (livenessOnly) db.pragma("synchronous = NORMAL");
        try {
          runBatch.immediate(ops);
        } finally {
          if (livenessOnly) db.pragma("synchronous = FULL");
        }
      } catch (error) {
        throw new RuntimeError(
          `coordinator database write failed: ${(error as Error).message ?? String(error)}`,
          { code: Code.Unavailable, cause: error },
        );
      }
    },
    close() {
      db.close();
    },
  };
}

function migrate(db: Db): void {
  db.exec("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)");
  const row = db.prepare("SELECT version FROM schema_version").get() as Row | undefined;
  let version = row === undefined ? 0 : Number(row.version);
  if (row === undefined) db.prepare("INSERT INTO schema_version (version) VALUES (0)").run();
  if (version > MIGRATIONS.length) {
    throw new RuntimeError(
      `coordinator database schema version ${version} is newer than this coordinator (${MIGRATIONS.length})`,
      { code: Code.FailedPrecondition },
    );
  }
  while (version < MIGRATIONS.length) {
    const sql = MIGRATIONS[version] as string;
    const next = version + 1;
    db.transaction(() => {
      db.exec(sql);
      db.prepare("UPDATE schema_version SET version = ?").run(next);
    }).immediate();
    version = next;
  }
}

function readAll(db: Db): StoredState {
  const meta = db.prepare("SELECT value FROM meta WHERE key = 'membership_version'").get() as
    | Row
    | undefined;
  const workers = (db.prepare("SELECT * FROM workers").all() as Row[]).map(
    (r): StoredWorker => ({
      workerId: str(r.worker_id),
      hostname: str(r.hostname),
      port: num(r.port),
      gpuCount: num(r.gpu_count),
      memoryBytes: num(r.memory_bytes),
      metadata: json<Record<string, string>>(r.metadata_json),
      rank: num(r.rank),
      incarnation: num(r.incarnation),
      status: str(r.status) as StoredWorker["status"],
      state: str(r.state) as WorkerState,
      registeredAtMs: num(r.registered_at_ms),
      lastHeartbeatMs: num(r.last_heartbeat_ms),
      currentStep: num(r.current_step),
      currentEpoch: num(r.current_epoch),
      currentTask: str(r.current_task),
    }),
  );
  const datasets = (db.prepare("SELECT * FROM datasets").all() as Row[]).map(
    (r): StoredDataset => ({
      spec: {
        datasetId: str(r.dataset_id),
        path: str(r.path),
        format: str(r.format),
        totalSamples: num(r.total_samples),
        shardSize: num(r.shard_size),
        shuffle: num(r.shuffle) !== 0,
        seed: BigInt(str(r.seed)),
        metadata: json<Record<string, string>>(r.metadata_json),
      },
      totalShards: num(r.total_shards),
      registeredAtMs: num(r.registered_at_ms),
    }),
  );
  const shardProgress = (db.prepare("SELECT * FROM shard_progress").all() as Row[]).map(
    (r): StoredShardProgress => ({
      datasetId: str(r.dataset_id),
      epoch: num(r.epoch),
      shardId: num(r.shard_id),
      consumed: json<StoredShardProgress["consumed"]>(r.consumed_json),
      ownerWorkerId: str(r.owner_worker_id),
    }),
  );
  const shardPlans = (
    db
      .prepare("SELECT key, value FROM meta WHERE substr(key, 1, ?) = ?")
      .all(SHARD_PLAN_META_PREFIX.length, SHARD_PLAN_META_PREFIX) as Row[]
  ).map(
    (r): StoredShardPlan => ({
      datasetId: str(r.key).slice(SHARD_PLAN_META_PREFIX.length),
      plan: str(r.value),
    }),
  );
  const checkpointSteps = (db.prepare("SELECT * FROM checkpoint_steps").all() as Row[]).map(
    (r): StoredCheckpointStep => ({
      jobId: str(r.job_id),
      step: num(r.step),
      epoch: num(r.epoch),
      expectedRanks: json<number[]>(r.expected_ranks_json),
      complete: num(r.complete) !== 0,
      createdAtMs: num(r.created_at_ms),
      completedAtMs: num(r.completed_at_ms),
    }),
  );
  const checkpoints = (db.prepare("SELECT * FROM checkpoints").all() as Row[]).map(
    (r): CheckpointRecord => ({
      jobId: str(r.job_id),
      step: num(r.step),
      rank: num(r.rank),
      workerId: str(r.worker_id),
      checkpointId: str(r.checkpoint_id),
      epoch: num(r.epoch),
      storagePath: str(r.storage_path),
      sizeBytes: num(r.size_bytes),
      kind: str(r.kind) as CheckpointKind,
      recordedAtMs: num(r.recorded_at_ms),
      metadata: json<Record<string, string>>(r.metadata_json),
    }),
  );
  const records = (db.prepare("SELECT kind, id, json FROM records").all() as Row[]).map(
    (r): StoredRecord => ({ kind: str(r.kind), id: str(r.id), json: str(r.json) }),
  );
  const barrierReleases = (db.prepare("SELECT * FROM barrier_releases").all() as Row[]).map(
    (r): StoredBarrierRelease => ({
      barrierId: str(r.barrier_id),
      generation: num(r.generation),
      step: num(r.step),
      participants: json<string[]>(r.participants_json),
      releasedAtMs: num(r.released_at_ms),
      membershipVersion: num(r.membership_version),
    }),
  );
  return {
    membershipVersion: meta === undefined ? 0 : Number(str(meta.value)),
    records,
    barrierReleases,
    workers,
    datasets,
    shardProgress,
    shardPlans,
    checkpointSteps,
    checkpoints,
  };
}

/** Meta-table key prefix of a dataset's shard ownership plan. */
const SHARD_PLAN_META_PREFIX = "shard_plan:";

function str(value: unknown): string {
  return typeof value === "string" ? value : String(value);
}

function num(value: unknown): number {
  return typeof value === "number" ? value : Number(value);
}

function json<T>(value: unknown): T {
  return JSON.parse(str(value)) as T;
}
