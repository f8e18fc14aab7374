import { Code, RuntimeError } from "@strata/runtime-core";
import { Router } from "express";
import type { BarrierDetailResponse, BarriersResponse } from "../api/barriers.js";
import type { CheckpointDetailResponse, CheckpointsResponse } from "../api/checkpoints.js";
import type { DashboardResponse } from "../api/dashboard.js";
import type { DatasetDetailResponse, DatasetsResponse } from "../api/datasets.js";
import type { MetricsResponse } from "../api/metrics.js";
import type { StatusResponse } from "../api/status.js";
import type { WorkerDetailResponse, WorkersResponse } from "../api/workers.js";
import type { EngineSnapshot } from "../engine/types.js";
import { toBarrierDetail, toBarrierList } from "../views/barrier-views.js";
import {
  type CheckpointPartSources,
  toCheckpointDetail,
  toCheckpointResponse,
} from "../views/checkpoint-views.js";
import { toDatasetResponse } from "../views/dataset-views.js";
import { eventToLog } from "../views/engine-event-to-api.js";
import { toMetricsResponse } from "../views/metrics-view.js";
import { toStatusResponse } from "../views/status-view.js";
import { toWorkerResponse } from "../views/worker-views.js";
import type { ApiContext } from "./api-context.js";
import { methodNotAllowed } from "./method-not-allowed.js";
import { integerQuery, textQuery } from "./request-validation.js";

/** Shard ids listed per dataset on a worker's detail page. */
const WORKER_SHARD_IDS = 1_000;
/** Shards read per page when scanning a shard map for one worker. */
const SCAN_PAGE = 100_000;

/** Builders shared by the single routes and `/api/dashboard`. */
function readers(ctx: Omit<ApiContext, "dashboard">) {
  const status = (snapshot: EngineSnapshot, requestHost: string | undefined): StatusResponse =>
    toStatusResponse(ctx.identity, snapshot, requestHost);
  const workers = (snapshot: EngineSnapshot): WorkersResponse => {
    const assigned = ctx.engine.assignedShardCounts();
    return snapshot.workers.map((w) =>
      toWorkerResponse(w, {
        nowMs: snapshot.atMs,
        assignedShards: assigned.get(w.workerId) ?? 0,
        stepRate: ctx.monitor.rates.stepRate(w.workerId),
      }),
    );
  };
  const datasets = (snapshot: EngineSnapshot): DatasetsResponse =>
    snapshot.datasets.map(toDatasetResponse);
  const partSources = (): CheckpointPartSources => {
    const latest = new Map<string, ReturnType<typeof ctx.engine.getLatestCheckpoint>>();
    return {
      tracker: ctx.monitor.checkpoints,
      fullParts(jobId, step) {
        let answer = latest.get(jobId);
        if (answer === undefined) {
          answer = ctx.engine.getLatestCheckpoint({ workerId: "", jobId });
          latest.set(jobId, answer);
        }
        return answer.hasCheckpoint && answer.resumeStep === step ? answer.parts : undefined;
      },
    };
  };
  const checkpoints = (
    snapshot: EngineSnapshot,
    options: { jobId?: string; limit: number },
  ): CheckpointsResponse => {
    const sources = partSources();
    return snapshot.checkpoints
      .filter((c) => options.jobId === undefined || c.jobId === options.jobId)
      .sort((a, b) => b.createdAtMs - a.createdAtMs || b.step - a.step)
      .slice(0, options.limit)
      .map((c) => toCheckpointResponse(c, sources));
  };
  const barriers = (snapshot: EngineSnapshot): BarriersResponse =>
    toBarrierList(snapshot.barriers, ctx.monitor.barriers);
  const metrics = (snapshot: EngineSnapshot): MetricsResponse =>
    toMetricsResponse(ctx.monitor.stats.last, snapshot, ctx.history.lastSeq);
  return { status, workers, datasets, checkpoints, partSources, barriers, metrics };
}

/** The whole `/api/dashboard` answer, read now (see `DashboardCache` for how it is served). */
export function buildDashboard(
  ctx: Omit<ApiContext, "dashboard">,
  requestHost: string | undefined,
): DashboardResponse {
  const read = readers(ctx);
  const snapshot = ctx.engine.snapshot();
  return {
    coordinator: read.status(snapshot, requestHost),
    workers: read.workers(snapshot),
    datasets: read.datasets(snapshot),
    checkpoints: read.checkpoints(snapshot, { limit: 20 }),
    barriers: read.barriers(snapshot),
    metrics: read.metrics(snapshot),
    tasks: ctx.tasks.list(),
    logs: ctx.history.query({ minLevel: "info", limit: 100 }).map(eventToLog),
  };
}

/**
 * The cluster's resources: the original's routes (`/api/status`, `/api/workers`,
 * `/api/datasets`, `/api/checkpoints`, `/api/barriers`, `/api/metrics`, `/api/dashboard`) with
 * their JSON field names, and the detail routes (`/api/workers/:id`, `/api/datasets/:id`,
 * `/api/checkpoints/:job/:step`, `/api/barriers/:id`). Every value is read from the engine or
 * measured by the monitor; nothing is made up.
 */
export function clusterRoutes(ctx: ApiContext): Router {
  const router = Router();
  const read = readers(ctx);

  router
    .route("/api/status")
    .get((request, response) => {
      response.json(read.status(ctx.engine.snapshot(), request.hostname));
    })
    .all(methodNotAllowed("GET"));

  router
    .route("/api/workers")
    .get((_request, response) => {
      response.json(read.workers(ctx.engine.snapshot()));
    })
    .all(methodNotAllowed("GET"));

  router
    .route("/api/workers/:id")
    .get((request, response) => {
      const id = request.params.id as string;
      const snapshot = ctx.engine.snapshot();
      const view = snapshot.workers.find((w) => w.workerId === id);
      if (view === undefined) {
        throw new RuntimeError(`worker "${id}" not found`, { code: Code.NotFound });
      }
      const shards: WorkerDetailResponse["shards"] = [];
      if (view.state !== "dead") {
        for (const dataset of snapshot.datasets) {
          const datasetId = dataset.spec.datasetId;
          let page = ctx.engine.datasetShardMap(datasetId, { offset: 0, limit: SCAN_PAGE });
          const total = page.shardsPerWorker[id] ?? 0;
          if (total === 0) continue;
          const ids: number[] = [];
          for (;;) {
            const index = page.workers.indexOf(id);
            if (index >= 0) {
              for (let i = 0; i < page.owner.length && ids.length < WORKER_SHARD_IDS; i++) {
                if (page.owner[i] === index) ids.push(page.offset + i);
              }
            }
            const next = page.offset + page.owner.length;
            if (ids.length >= Math.min(total, WORKER_SHARD_IDS) || next >= page.totalShards) break;
            page = ctx.engine.datasetShardMap(datasetId, {
              epoch: page.epoch,
              offset: next,
              limit: SCAN_PAGE,
            });
          }
          shards.push({ dataset_id: datasetId, epoch: page.epoch, shard_ids: ids, total });
        }
      }
      const assigned = ctx.engine.assignedShardCounts();
      const body: WorkerDetailResponse = {
        worker: toWorkerResponse(view, {
          nowMs: snapshot.atMs,
          assignedShards: assigned.get(id) ?? 0,
          stepRate: ctx.monitor.rates.stepRate(id),
        }),
        events: ctx.history.query({ workerId: id, limit: 200 }).reverse(),
        shards,
      };
      response.json(body);
    })
    .all(methodNotAllowed("GET"));

  router
    .route("/api/datasets")
    .get((_request, response) => {
      response.json(read.datasets(ctx.engine.snapshot()));
    })
    .all(methodNotAllowed("GET"));

  router
    .route("/api/datasets/:id")
    .get((request, response) => {
      const id = request.params.id as string;
      const snapshot = ctx.engine.snapshot();
      const dataset = snapshot.datasets.find((d) => d.spec.datasetId === id);
      if (dataset === undefined) {
        throw new RuntimeError(`dataset "${id}" not found`, { code: Code.NotFound });
      }
      const epoch = integerQuery(request.query, "epoch", { min: 0, max: Number.MAX_SAFE_INTEGER });
      const offset = integerQuery(request.query, "offset", {
        min: 0,
        max: Number.MAX_SAFE_INTEGER,
        fallback: 0,
      }) as number;
      const limit = integerQuery(request.query, "limit", {
        min: 1,
        max: 100_000,
        fallback: 10_000,
      }) as number;
      const page = ctx.engine.datasetShardMap(id, {
        ...(epoch === undefined ? {} : { epoch }),
        offset,
        limit,
      });
      const moves = ctx.history
        .query({ types: ["shards_reassigned"], datasetId: id, limit: 100 })
        .reverse()
        .map((e) => ({
          at: e.at,
          epoch: Number(e.data.epoch ?? 0),
          membership_version: Number(e.data.membership_version ?? 0),
          moved: Number(e.data.moved ?? 0),
        }));
      const body: DatasetDetailResponse = {
        dataset: toDatasetResponse(dataset),
        epoch: page.epoch,
        membership_version: page.membershipVersion,
        offset: page.offset,
        total_shards: page.totalShards,
        workers: page.workers,
        owner: page.owner,
        consumed: page.consumed,
        pinned: page.pinned,
        shards_per_worker: page.shardsPerWorker,
        moves,
      };
      response.json(body);
    })
    .all(methodNotAllowed("GET"));

  router
    .route("/api/checkpoints")
    .get((request, response) => {
      const jobId = textQuery(request.query, "job_id", 128);
      const limit = integerQuery(request.query, "limit", {
        min: 1,
        max: 10_000,
        fallback: 100,
      }) as number;
      response.json(
        read.checkpoints(ctx.engine.snapshot(), {
          ...(jobId === undefined ? {} : { jobId }),
          limit,
        }),
      );
    })
    .all(methodNotAllowed("GET"));

  router
    .route("/api/checkpoints/:job/:step")
    .get((request, response) => {
      const jobId = request.params.job as string;
      const rawStep = request.params.step as string;
      const step = /^\d{1,16}$/.test(rawStep) ? Number(rawStep) : Number.NaN;
      if (!Number.isSafeInteger(step)) {
        throw new RuntimeError(
          `step: expected a non-negative integer, got "${rawStep.slice(0, 40)}"`,
          {
            code: Code.InvalidArgument,
            details: { field: "step" },
          },
        );
      }
      const view = ctx.engine
        .snapshot()
        .checkpoints.find((c) => c.jobId === jobId && c.step === step);
      if (view === undefined) {
        throw new RuntimeError(`checkpoint of job "${jobId}" at step ${step} not found`, {
          code: Code.NotFound,
        });
      }
      const body: CheckpointDetailResponse = toCheckpointDetail(view, read.partSources());
      response.json(body);
    })
    .all(methodNotAllowed("GET"));

  router
    .route("/api/barriers")
    .get((_request, response) => {
      response.json(read.barriers(ctx.engine.snapshot()));
    })
    .all(methodNotAllowed("GET"));

  router
    .route("/api/barriers/:id")
    .get((request, response) => {
      const id = request.params.id as string;
      const body: BarrierDetailResponse | undefined = toBarrierDetail(
        id,
        ctx.engine.snapshot().barriers,
        ctx.monitor.barriers,
      );
      if (body === undefined) {
        throw new RuntimeError(`barrier "${id}" not found`, { code: Code.NotFound });
      }
      response.json(body);
    })
    .all(methodNotAllowed("GET"));

  router
    .route("/api/metrics")
    .get((_request, response) => {
      response.json(read.metrics(ctx.engine.snapshot()));
    })
    .all(methodNotAllowed("GET"));

  router
    .route("/api/dashboard")
    .get((request, response) => {
      response.type("json").send(ctx.dashboard.get(request.hostname));
    })
    .all(methodNotAllowed("GET"));

  return router;
}
