import { execFile } from "node:child_process";
import { cpus, freemem, totalmem } from "node:os";
import type { GpuUsage, ResourceUsage } from "@strata/proto";

/** Reads the host's resource usage for heartbeats. */
export interface ResourceSampler {
  /** The current usage. Never rejects: a source that fails is left out. */
  sample(): Promise<ResourceUsage>;
  /** GPUs found on the last sample (0 without `nvidia-smi`). */
  readonly gpuCount: number;
}

/** Options for {@link createResourceSampler}. */
export interface ResourceSamplerOptions {
  /**
   * The `nvidia-smi` program to ask for GPU usage; `false` disables GPU sampling. Default
   * `nvidia-smi` on the PATH; when it is absent (or fails) GPUs are simply not reported.
   */
  nvidiaSmi?: string | false;
  /** Most time one `nvidia-smi` run may take, in ms. Default 2,000. */
  nvidiaSmiTimeoutMs?: number;
}

/**
 * Samples real usage: host CPU percent since the previous sample (100 per fully used core, from
 * `os.cpus()` tick counters), host memory in use (`totalmem − freemem`), and per-GPU utilisation,
 * memory and temperature from `nvidia-smi --query-gpu` when that program exists. Byte counters
 * (disk, network) are not reported (0): Node has no portable source for them.
 */
export function createResourceSampler(options: ResourceSamplerOptions = {}): ResourceSampler {
  const program = options.nvidiaSmi === undefined ? "nvidia-smi" : options.nvidiaSmi;
  const timeoutMs = options.nvidiaSmiTimeoutMs ?? 2_000;
  let previous = cpuTicks();
  let gpusAvailable = program !== false;
  let gpuCount = 0;
  return {
    get gpuCount() {
      return gpuCount;
    },
    async sample() {
      const now = cpuTicks();
      const busy = now.busy - previous.busy;
      const total = now.total - previous.total;
      previous = now;
      const cores = cpus().length;
      const cpuPercent = total > 0 ? Math.round((busy / total) * cores * 1000) / 10 : 0;
      let gpuUsage: GpuUsage[] = [];
      if (gpusAvailable && program !== false) {
        const gpus = await queryNvidiaSmi(program, timeoutMs);
        if (gpus === undefined) gpusAvailable = false;
        else gpuUsage = gpus;
        gpuCount = gpuUsage.length;
      }
      return {
        cpuPercent,
        memoryUsedBytes: BigInt(totalmem() - freemem()),
        gpuUsage,
        diskReadBytes: 0n,
        diskWriteBytes: 0n,
        networkRxBytes: 0n,
        networkTxBytes: 0n,
      };
    },
  };
}

function cpuTicks(): { busy: number; total: number } {
  let busy = 0;
  let total = 0;
  for (const cpu of cpus()) {
    const t = cpu.times;
    const all = t.user + t.nice + t.sys + t.idle + t.irq;
    total += all;
    busy += all - t.idle;
  }
  return { busy, total };
}

const MIB = 1024 * 1024;

/**
 * Runs `nvidia-smi --query-gpu=index,utilization.gpu,memory.used,memory.total,temperature.gpu
 * --format=csv,noheader,nounits` and parses one GPU per line. Undefined when the program is
 * missing or fails (no GPUs to report, and no point asking again).
 */
export function queryNvidiaSmi(
  program: string,
  timeoutMs: number,
): Promise<GpuUsage[] | undefined> {
  return new Promise((resolve) => {
    execFile(
      program,
      [
        "--query-gpu=index,utilization.gpu,memory.used,memory.total,temperature.gpu",
        "--format=csv,noheader,nounits",
      ],
      { timeout: timeoutMs },
      (error, stdout) => {
        if (error) {
          resolve(undefined);
          return;
        }
        resolve(parseNvidiaSmi(String(stdout)));
      },
    );
  });
}

/** Parses `nvidia-smi` CSV lines (`0, 87, 18000, 24576, 71`; memory in MiB). */
export function parseNvidiaSmi(csv: string): GpuUsage[] {
  const out: GpuUsage[] = [];
  for (const line of csv.split("\n")) {
    const cells = line.split(",").map((c) => c.trim());
    if (cells.length < 5) continue;
    const [index, util, used, total, temp] = cells.map((c) => Number(c));
    if (!Number.isInteger(index)) continue;
    out.push({
      gpuId: index as number,
      utilizationPercent: finiteOr0(util),
      memoryUsedBytes: BigInt(Math.round(finiteOr0(used) * MIB)),
      memoryTotalBytes: BigInt(Math.round(finiteOr0(total) * MIB)),
      temperatureCelsius: finiteOr0(temp),
    });
  }
  return out;
}

function finiteOr0(value: number | undefined): number {
  return value !== undefined && Number.isFinite(value) ? value : 0;
}
