import type { DatasetResponse } from "../api/datasets.js";
import type { DatasetView } from "../engine/types.js";

/** A dataset as `/api/datasets` shows it (registration time and progress are the real ones). */
export function toDatasetResponse(d: DatasetView): DatasetResponse {
  const total = d.spec.totalSamples;
  const epochs = [...d.epochs]
    .sort((a, b) => a.epoch - b.epoch)
    .map((e) => ({
      epoch: e.epoch,
      consumed_samples: e.consumedSamples,
      complete: e.complete,
      fraction: total <= 0 ? 0 : Math.min(1, e.consumedSamples / total),
    }));
  const last = epochs[epochs.length - 1];
  return {
    id: d.spec.datasetId,
    name: d.spec.datasetId,
    total_samples: total,
    shard_size: d.spec.shardSize,
    shard_count: d.totalShards,
    format: d.spec.format,
    shuffle: d.spec.shuffle,
    registered_at: d.registeredAtMs,
    path: d.spec.path,
    seed: d.spec.seed.toString(),
    metadata: { ...d.spec.metadata },
    epochs,
    active_epoch: last === undefined ? null : last.epoch,
  };
}
