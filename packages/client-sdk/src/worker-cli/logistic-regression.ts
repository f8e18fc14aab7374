import { Code, RuntimeError } from "@strata/runtime-core";

/** Adam hyper-parameters. */
export interface AdamOptions {
  /** Step size. Default 0.05. */
  learningRate?: number;
  /** Default 0.9. */
  beta1?: number;
  /** Default 0.999. */
  beta2?: number;
  /** Default 1e-8. */
  epsilon?: number;
}

/** What a checkpoint holds of the model: the buffers and the scalars. */
export interface ModelState {
  buffers: { weights: Float64Array; adamM: Float64Array; adamV: Float64Array };
  metadata: { adamStep: number; lossEma: number; features: number };
}

/**
 * Logistic regression trained with Adam, in plain TypeScript: `features` weights and a bias,
 * mean binary cross-entropy loss. Small enough to run anywhere, real enough that its loss falls
 * and that a checkpoint (weights and optimizer moments) continues the curve where it left off.
 */
export class LogisticRegression {
  readonly features: number;
  readonly weights: Float64Array;
  readonly #m: Float64Array;
  readonly #v: Float64Array;
  readonly #lr: number;
  readonly #beta1: number;
  readonly #beta2: number;
  readonly #epsilon: number;
  readonly #grad: Float64Array;
  #t = 0;
  /** Exponential moving average of the batch loss (0.98 decay), NaN before the first step. */
  lossEma = Number.NaN;

  constructor(features: number, options: AdamOptions = {}) {
    if (!Number.isSafeInteger(features) || features < 1 || features > 1_000_000) {
      throw new RuntimeError(`features: must be an integer in 1…1,000,000, got ${features}`, {
        code: Code.InvalidArgument,
        details: { field: "features" },
      });
    }
    this.features = features;
    this.weights = new Float64Array(features + 1);
    this.#m = new Float64Array(features + 1);
    this.#v = new Float64Array(features + 1);
    this.#grad = new Float64Array(features + 1);
    this.#lr = options.learningRate ?? 0.05;
    this.#beta1 = options.beta1 ?? 0.9;
    this.#beta2 = options.beta2 ?? 0.999;
    this.#epsilon = options.epsilon ?? 1e-8;
  }

  /** Optimizer steps taken (restored from checkpoints). */
  get adamStep(): number {
    return this.#t;
  }

  /**
   * One Adam step on a batch; returns the batch's mean loss (before the update). `rows` holds
   * each sample's features; `labels` are 0 or 1.
   */
  trainStep(rows: readonly Float32Array[], labels: readonly number[]): number {
    const n = rows.length;
    if (n === 0 || n !== labels.length) {
      throw new RuntimeError(
        `a batch needs as many labels as rows (got ${n} and ${labels.length})`,
        {
          code: Code.InvalidArgument,
        },
      );
    }
    const f = this.features;
    const w = this.weights;
    const g = this.#grad;
    g.fill(0);
    let loss = 0;
    for (let r = 0; r < n; r++) {
      const x = rows[r] as Float32Array;
      const y = labels[r] as number;
      let z = w[f] as number;
      for (let i = 0; i < f; i++) z += (w[i] as number) * (x[i] as number);
      const p = 1 / (1 + Math.exp(-z));
      // log(1 + e^z) − y·z, written to stay finite for large |z|.
      loss += (z > 0 ? z + Math.log1p(Math.exp(-z)) : Math.log1p(Math.exp(z))) - y * z;
      const d = p - y;
      for (let i = 0; i < f; i++) g[i] = (g[i] as number) + d * (x[i] as number);
      g[f] = (g[f] as number) + d;
    }
    this.#t++;
    const b1 = this.#beta1;
    const b2 = this.#beta2;
    const c1 = 1 - b1 ** this.#t;
    const c2 = 1 - b2 ** this.#t;
    for (let i = 0; i <= f; i++) {
      const gi = (g[i] as number) / n;
      const m = b1 * (this.#m[i] as number) + (1 - b1) * gi;
      const v = b2 * (this.#v[i] as number) + (1 - b2) * gi * gi;
      this.#m[i] = m;
      this.#v[i] = v;
      w[i] = (w[i] as number) - (this.#lr * (m / c1)) / (Math.sqrt(v / c2) + this.#epsilon);
    }
    const mean = loss / n;
    this.lossEma = Number.isNaN(this.lossEma) ? mean : 0.98 * this.lossEma + 0.02 * mean;
    return mean;
  }

  /** The state to checkpoint (copies are made by the checkpoint manager). */
  state(): ModelState {
    return {
      buffers: { weights: this.weights, adamM: this.#m, adamV: this.#v },
      metadata: { adamStep: this.#t, lossEma: this.lossEma, features: this.features },
    };
  }

  /** Restores weights, optimizer moments and counters from checkpoint buffers and metadata. */
  restore(buffers: Record<string, Uint8Array>, metadata: Record<string, unknown>): void {
    const read = (name: string, into: Float64Array) => {
      const bytes = buffers[name];
      if (bytes === undefined || bytes.byteLength !== into.byteLength) {
        throw new RuntimeError(
          `checkpoint buffer ${name} is missing or has ${bytes?.byteLength ?? 0} bytes, expected ${into.byteLength} (a model with ${this.features} features)`,
          { code: Code.FailedPrecondition, details: { buffer: name } },
        );
      }
      into.set(
        new Float64Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength)),
      );
    };
    read("weights", this.weights);
    read("adamM", this.#m);
    read("adamV", this.#v);
    this.#t = typeof metadata.adamStep === "number" ? metadata.adamStep : 0;
    this.lossEma = typeof metadata.lossEma === "number" ? metadata.lossEma : Number.NaN;
  }
}
