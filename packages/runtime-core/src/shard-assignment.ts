/** One shard handed to one worker for one epoch. Indices are sample numbers: start inclusive, end exclusive. */
export interface ShardAssignment {
  datasetId: string;
  shardId: number;
  totalShards: number;
  startIndex: number;
  endIndex: number;
  epoch: number;
  filePaths: readonly string[];
}

/** A half-open range of sample indices [start, end). */
export interface SampleRange {
  start: number;
  end: number;
}
