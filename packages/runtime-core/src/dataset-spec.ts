/**
 * A dataset as registered with the coordinator. Samples are numbered 0…totalSamples−1 and cut
 * into shards of `shardSize` consecutive samples; the last shard may be shorter.
 */
export interface DatasetSpec {
  datasetId: string;
  /** Where the data lives (a path or URI); opaque to Strata. */
  path: string;
  /** Free-form format name, such as `parquet` or `webdataset`. */
  format: string;
  totalSamples: number;
  shardSize: number;
  /** Whether shard order and sample order are shuffled per epoch. */
  shuffle: boolean;
  /** Seed for the per-epoch shuffle; the same seed gives the same order in every process. */
  seed: bigint;
  metadata: Readonly<Record<string, string>>;
}
