import cliProgress from "cli-progress";

/** How the worker shows progress: a bar (terminals) or JSON lines (logs, pipes, tests). */
export type OutputMode = "bar" | "json";

/** Training progress after one step. */
export interface ProgressUpdate {
  epoch: number;
  step: number;
  /** Smoothed loss (moving average). */
  loss: number;
  /** This step's batch loss. */
  batchLoss: number;
  /** Samples of the epoch consumed so far (estimate) and in total. */
  epochSamples: number;
  epochTotal: number;
}

/** Where the training loop reports. */
export interface WorkerOutput {
  readonly mode: OutputMode;
  /** A noteworthy event (`started`, `resumed`, `checkpoint`, `membership`, `done`, ...). */
  event(event: string, fields?: Record<string, unknown>): void;
  /** Training progress after a step; shown on the bar, or logged every `logEvery` steps. */
  progress(p: ProgressUpdate): void;
  /** Stops the bar. Idempotent. */
  close(): void;
}

/** Options for {@link createWorkerOutput}. */
export interface WorkerOutputOptions {
  mode: OutputMode;
  workerId: string;
  /** JSON mode: a `step` line every this many steps. Default 10. */
  logEvery?: number;
  /** Default `process.stdout`. */
  stdout?: NodeJS.WritableStream;
  /** Where the bar goes. Default `process.stderr`. */
  stderr?: NodeJS.WritableStream;
}

/**
 * JSON mode writes one JSON object per line to stdout: `{"ts":…,"workerId":…,"event":…,…}`.
 * Bar mode draws a `cli-progress` bar on stderr and prints events above it as short text lines.
 */
export function createWorkerOutput(options: WorkerOutputOptions): WorkerOutput {
  const stdout = options.stdout ?? process.stdout;
  const logEvery = options.logEvery ?? 10;
  if (options.mode === "json") {
    const write = (event: string, fields: Record<string, unknown>) =>
      stdout.write(
        `${JSON.stringify({ ts: Date.now(), workerId: options.workerId, event, ...fields })}\n`,
      );
    return {
      mode: "json",
      event: (event, fields = {}) => write(event, fields),
      progress(p) {
        if (p.step % logEvery === 0) {
          write("step", { ...p, loss: round(p.loss), batchLoss: round(p.batchLoss) });
        }
      },
      close() {},
    };
  }
  const multibar = new cliProgress.MultiBar(
    {
      stream: options.stderr ?? process.stderr,
      format: `${options.workerId} epoch {epoch} |{bar}| {percentage}% | step {step} | loss {loss}`,
      hideCursor: true,
      clearOnComplete: false,
      stopOnComplete: false,
    },
    cliProgress.Presets.shades_classic,
  );
  const bar = multibar.create(1, 0, { epoch: 0, step: 0, loss: "-" });
  let closed = false;
  return {
    mode: "bar",
    event(event, fields = {}) {
      const text = Object.entries(fields)
        .map(([k, v]) => `${k}=${typeof v === "object" ? JSON.stringify(v) : String(v)}`)
        .join(" ");
      multibar.log(`${event} ${text}\n`);
    },
    progress(p) {
      bar.setTotal(Math.max(1, p.epochTotal));
      bar.update(Math.min(p.epochSamples, p.epochTotal), {
        epoch: p.epoch,
        step: p.step,
        loss: Number.isFinite(p.loss) ? p.loss.toFixed(4) : "-",
      });
    },
    close() {
      if (closed) return;
      closed = true;
      multibar.stop();
    },
  };
}

function round(x: number): number | null {
  return Number.isFinite(x) ? Math.round(x * 1e5) / 1e5 : null;
}
