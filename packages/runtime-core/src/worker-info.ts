import type { WorkerState } from "./worker-state.js";

/** Resource usage of one GPU, as a worker reports it. */
export interface GpuUsage {
  gpuId: number;
  /** 0 to 100. */
  utilizationPercent: number;
  memoryUsedBytes: number;
  memoryTotalBytes: number;
  temperatureCelsius: number;
}

/** Resource usage a worker reports with each heartbeat. Byte counters are cumulative since start. */
export interface ResourceUsage {
  /** 0 to 100 per core summed, as `top` shows it. */
  cpuPercent: number;
  memoryUsedBytes: number;
  gpus: readonly GpuUsage[];
  diskReadBytes: number;
  diskWriteBytes: number;
  networkRxBytes: number;
  networkTxBytes: number;
}

/** What the coordinator knows about one worker. Times are ms since the Unix epoch. */
export interface WorkerInfo {
  /** Chosen by the worker; stable across its restarts so it can get its rank back. */
  workerId: string;
  hostname: string;
  /** The worker's own service port, if it has one (0 when not). */
  port: number;
  gpuCount: number;
  memoryBytes: number;
  /** Dense rank in [0, worldSize); stable for as long as the worker lives. */
  rank: number;
  state: WorkerState;
  /** Bumped each time the worker registers anew after being declared dead. */
  incarnation: number;
  registeredAtMs: number;
  lastHeartbeatMs: number;
  currentStep: number;
  currentEpoch: number;
  currentTask: string;
  resources: ResourceUsage | undefined;
  /** Free-form labels the worker sent at registration. */
  metadata: Readonly<Record<string, string>>;
}
