import { Code, type Logger, RuntimeError } from "@strata/runtime-core";
import type { CoordinatorStore, StoreOp } from "../store/coordinator-store.js";
import type { Draft } from "./draft.js";

/**
 * A state change, planned against a {@link Draft} and carried out only after its store
 * operations are durable ("write first, then apply").
 *
 * `plan` validates and computes the change: it reads the draft (the committed state plus the
 * changes planned before it in the same batch), throws a `RuntimeError` to refuse (nothing
 * happens then), and returns the store operations together with `effects`, which runs after
 * the batch committed and every operation was applied in memory: it emits events, notifies
 * waiters and returns the caller's answer. `plan` must not change anything itself.
 */
export interface Mutation<R> {
  /** For logs and metrics, e.g. `register_worker`. */
  readonly name: string;
  plan(draft: Draft): Planned<R>;
  /**
   * Runs in a batch of its own (a progress restore that rewrites a whole epoch). Other
   * mutations plan against the draft, and a wholesale rewrite is not worth an overlay.
   */
  readonly exclusive?: boolean;
  /** The caller went away: a mutation not yet planned is dropped with CANCELED. */
  readonly signal?: AbortSignal;
}

/** What a mutation's `plan` returns. */
export interface Planned<R> {
  ops: StoreOp[];
  /** Runs after the ops were committed and applied; its value is the caller's answer. */
  effects: () => R;
}

/** Options of {@link CommitPipeline}. */
export interface CommitPipelineOptions {
  store: CoordinatorStore;
  logger: Logger;
  /** A fresh draft over the committed state. */
  newDraft: () => Draft;
  /** Applies one committed op to the in-memory state. */
  applyOp: (op: StoreOp) => void;
  /**
   * Consecutive failed commits after which the store is considered lost: `onFatal` is called and
   * every later mutation fails with UNAVAILABLE. Default 3.
   */
  maxConsecutiveFailures?: number;
  /** Called once when the store keeps failing (fail-stop). */
  onFatal: (error: RuntimeError) => void;
  /** Most ops in one commit; more mutations wait for the next batch. Default 50,000. */
  maxBatchOps?: number;
  /** Runs after the effects of every committed batch (coalesced notifications). */
  afterBatch?: () => void;
  /** Counts commits and failures (for metrics). */
  onCommit?: (outcome: { mutations: number; ops: number; ok: boolean }) => void;
}

interface Queued {
  mutation: Mutation<unknown>;
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
}

/**
 * The engine's one writer. Mutations queue here; whenever no commit is running, every queued
 * mutation (up to `maxBatchOps`) is planned in order against one draft, their ops are committed in
 * one `store.apply` (group commit: a burst of 10,000 registrations costs a handful of commits),
 * and only then are the ops applied in memory and the effects run, in order. A failed commit
 * changes nothing in memory and rejects every mutation of the batch with the store's error
 * (UNAVAILABLE); `maxConsecutiveFailures` failures in a row stop the engine (fail-stop), because
 * a coordinator that cannot keep its state must not go on serving it.
 */
export class CommitPipeline {
  readonly #o: CommitPipelineOptions;
  readonly #maxFailures: number;
  readonly #maxBatchOps: number;
  #queue: Queued[] = [];
  #running = false;
  #consecutiveFailures = 0;
  #fatal: RuntimeError | undefined;
  #idleWaiters: (() => void)[] = [];

  constructor(options: CommitPipelineOptions) {
    this.#o = options;
    this.#maxFailures = options.maxConsecutiveFailures ?? 3;
    this.#maxBatchOps = options.maxBatchOps ?? 50_000;
  }

  /** The error that stopped the pipeline, if the store kept failing. */
  get fatal(): RuntimeError | undefined {
    return this.#fatal;
  }

  /** Queues a mutation; resolves with its effects' value once it is durable and applied. */
  submit<R>(mutation: Mutation<R>): Promise<R> {
    if (this.#fatal !== undefined) return Promise.reject(this.#fatal);
    if (mutation.signal?.aborted) return Promise.reject(canceled(mutation));
    return new Promise<R>((resolve, reject) => {
      this.#queue.push({
        mutation,
        resolve: resolve as (value: unknown) => void,
        reject,
      });
      if (!this.#running) {
        this.#running = true;
        // Let the rest of this event-loop turn queue its mutations too, so they share a commit.
        setImmediate(() => void this.#drain());
      }
    });
  }

  /** Resolves when nothing is queued or committing (tests, shutdown). */
  idle(): Promise<void> {
    if (!this.#running && this.#queue.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }

  /** Refuses everything still queued with `error` (shutdown). */
  rejectQueued(error: RuntimeError): void {
    const queued = this.#queue;
    this.#queue = [];
    for (const q of queued) q.reject(error);
  }

  async #drain(): Promise<void> {
    try {
      while (this.#queue.length > 0 && this.#fatal === undefined) {
        await this.#runBatch();
      }
    } finally {
      this.#running = false;
      if (this.#fatal !== undefined) this.rejectQueued(this.#fatal);
      const waiters = this.#idleWaiters;
      this.#idleWaiters = [];
      for (const w of waiters) w();
    }
  }

  async #runBatch(): Promise<void> {
    const draft = this.#o.newDraft();
    const planned: { q: Queued; planned: Planned<unknown>; opCount: number }[] = [];
    const ops: StoreOp[] = [];
    const groups: number[] = [];
    while (this.#queue.length > 0) {
      const q = this.#queue[0] as Queued;
      const { mutation } = q;
      if (mutation.exclusive === true && planned.length > 0) break;
      if (ops.length >= this.#maxBatchOps) break;
      this.#queue.shift();
      if (mutation.signal?.aborted) {
        q.reject(canceled(mutation));
        continue;
      }
      let result: Planned<unknown>;
      try {
        result = mutation.plan(draft);
      } catch (error) {
        q.reject(error);
        continue;
      }
      for (const op of result.ops) {
        draft.add(op);
        ops.push(op);
      }
      if (result.ops.length > 0) groups.push(result.ops.length);
      planned.push({ q, planned: result, opCount: result.ops.length });
      if (mutation.exclusive === true) break;
    }
    if (planned.length === 0) return;
    if (ops.length > 0) {
      try {
        await this.#o.store.apply(ops, { groups });
      } catch (error) {
        const failure = RuntimeError.from(error, Code.Unavailable);
        this.#consecutiveFailures++;
        this.#o.onCommit?.({ mutations: planned.length, ops: ops.length, ok: false });
        this.#o.logger.error(
          {
            err: failure,
            mutations: planned.length,
            ops: ops.length,
            consecutiveFailures: this.#consecutiveFailures,
          },
          "store commit failed; nothing of the batch was applied",
        );
        const answer = new RuntimeError(
          `the coordinator could not store this change, so it was not made: ${failure.rawMessage}`,
          { code: Code.Unavailable, cause: failure },
        );
        for (const p of planned) p.q.reject(answer);
        if (this.#consecutiveFailures >= this.#maxFailures) {
          this.#fatal = new RuntimeError(
            `the coordinator store failed ${this.#consecutiveFailures} times in a row (last: ${failure.rawMessage}); stopping rather than serving state it cannot keep`,
            { code: Code.Unavailable, cause: failure },
          );
          this.#o.onFatal(this.#fatal);
        }
        return;
      }
      this.#consecutiveFailures = 0;
      this.#o.onCommit?.({ mutations: planned.length, ops: ops.length, ok: true });
      for (const op of ops) this.#o.applyOp(op);
    }
    for (const p of planned) {
      try {
        p.q.resolve(p.planned.effects());
      } catch (error) {
        // An effect must not throw (the change is already made); report it to this caller only.
        this.#o.logger.error(
          { err: error, mutation: p.q.mutation.name },
          "effects of a committed change threw",
        );
        p.q.reject(error);
      }
    }
    this.#o.afterBatch?.();
  }
}

function canceled(mutation: Mutation<unknown>): RuntimeError {
  return new RuntimeError(`${mutation.name} was canceled before it was made`, {
    code: Code.Canceled,
  });
}
