import { performance } from "node:perf_hooks";
import { Code, createSilentLogger, type Logger, RuntimeError } from "@strata/runtime-core";
import type { Campaign, Etcd3, Lease, Namespace } from "etcd3";
import { Election } from "etcd3";
import type { EtcdFence } from "../store/etcd-store.js";
import { type LeaderObserver, observeLeader } from "./leader-observer.js";

/** Who a coordinator is, as it announces itself in the election (what followers tell clients). */
export interface CoordinatorIdentity {
  /** Unique per process: host and pid unless configured. */
  id: string;
  /** The gRPC address workers should dial, e.g. `10.0.0.5:50051`. */
  grpc: string;
  /** The HTTP address of its API and dashboard, e.g. `10.0.0.5:3000`. */
  http: string;
}

/** Options for {@link Leadership}. */
export interface LeadershipOptions {
  client: Etcd3;
  /** Key prefix (the same as the store's). Default `/strata/`. */
  prefix?: string;
  /**
   * Lease time-to-live, in seconds: a leader that stops renewing (dead, stopped, partitioned)
   * loses leadership after this long, and a follower takes over. Default 5.
   */
  ttlSeconds?: number;
  /**
   * How long before the lease could expire the leader stops serving on its own, in ms: it cannot
   * know exactly when etcd expired it, so it gives up early. Default 1,000.
   */
  safetyMarginMs?: number;
  logger?: Logger;
}

/** Where a coordinator stands. */
export type LeadershipState = "candidate" | "leader" | "lost" | "closed";

/**
 * Leader election among coordinators through etcd's own election recipe (the `etcd3` client's
 * `Election`: a lease-backed campaign key per candidate; the oldest one leads). We write no
 * consensus of our own.
 *
 * A leader serves only while {@link isLeaderNow} holds: its lease's last confirmed renewal plus
 * the TTL, minus a safety margin, is still ahead on a monotonic clock. A leader paused (GC, SIGSTOP,
 * a partition) past that point answers nothing more as leader, even before etcd tells it, and
 * every store write is fenced by its campaign key, so two leaders never answer.
 */
export class Leadership {
  readonly #log: Logger;
  readonly #ttlMs: number;
  readonly #marginMs: number;
  readonly #election: Election;
  /** Where the election keeps its candidates' keys (the etcd3 `Election`'s own namespace). */
  readonly #electionKeys: Namespace;
  #campaign: Campaign | undefined;
  #observer: LeaderObserver | undefined;
  #state: LeadershipState = "candidate";
  #leader: CoordinatorIdentity | undefined;
  #fence: EtcdFence | undefined;
  /** Monotonic ms until which our lease is surely alive. */
  #validUntil = 0;
  #lastKeepaliveFired = 0;
  #watchdog: ReturnType<typeof setInterval> | undefined;
  #elected: (() => void)[] = [];
  #lost: ((reason: RuntimeError) => void)[] = [];
  #changed: ((leader: CoordinatorIdentity | undefined) => void)[] = [];
  /** This coordinator, known once {@link start} is called (its addresses are bound first). */
  #self: CoordinatorIdentity = { id: "", grpc: "", http: "" };

  constructor(options: LeadershipOptions) {
    this.#log = (options.logger ?? createSilentLogger()).child({ component: "leadership" });
    this.#ttlMs = (options.ttlSeconds ?? 5) * 1000;
    this.#marginMs = options.safetyMarginMs ?? 1_000;
    const ns = options.client.namespace(options.prefix ?? "/strata/");
    this.#election = ns.election(ELECTION, options.ttlSeconds ?? 5);
    this.#electionKeys = ns.namespace(`${Election.prefix}/${ELECTION}/`);
  }

  get state(): LeadershipState {
    return this.#state;
  }

  /** The current leader (this coordinator or another), undefined while none is known. */
  get leader(): CoordinatorIdentity | undefined {
    return this.#state === "leader" ? this.#self : this.#leader;
  }

  get self(): CoordinatorIdentity {
    return this.#self;
  }

  /** Whether this coordinator may answer as leader right now (see the class doc). */
  isLeaderNow(): boolean {
    if (this.#state !== "leader") return false;
    if (performance.now() < this.#validUntil) return true;
    this.#lose(
      new RuntimeError(
        `leadership lease not confirmed for ${Math.round(performance.now() - (this.#validUntil - this.#ttlMs + this.#marginMs))} ms; stepping down`,
        { code: Code.Unavailable },
      ),
    );
    return false;
  }

  /** The proof of leadership for store writes. Throws when not leading. */
  fence(): EtcdFence {
    if (this.#fence === undefined || !this.isLeaderNow()) throw this.notLeaderError();
    return this.#fence;
  }

  /** UNAVAILABLE naming the leader (details.leader: its identity), for followers' answers. */
  notLeaderError(): RuntimeError {
    const leader = this.leader;
    return new RuntimeError(
      leader === undefined || leader.id === this.#self.id
        ? "not the leader; no leader is known yet (an election is under way)"
        : `not the leader; the leader is at ${leader.grpc}`,
      {
        code: Code.Unavailable,
        details: leader === undefined || leader.id === this.#self.id ? {} : { leader },
      },
    );
  }

  onElected(listener: () => void): void {
    this.#elected.push(listener);
  }

  /** Called once when leadership is lost (the lease expired or etcd said so). */
  onLost(listener: (reason: RuntimeError) => void): void {
    this.#lost.push(listener);
  }

  /** Called when the known leader changes. */
  onLeaderChanged(listener: (leader: CoordinatorIdentity | undefined) => void): void {
    this.#changed.push(listener);
  }

  /** Starts observing the leader, then campaigning as `self`. */
  async start(self: CoordinatorIdentity): Promise<void> {
    this.#self = self;
    const observer = await observeLeader(this.#electionKeys, {
      onChange: (value) => {
        const leader = parseIdentity(value);
        this.#leader = leader;
        this.#log.info({ leader }, "leader changed");
        for (const l of this.#changed) l(this.leader);
      },
      onError: (error) =>
        this.#log.warn({ err: error }, "leader observer failed; observing again in a second"),
    });
    this.#observer = observer;
    const known = parseIdentity(observer.leader);
    if (known !== undefined) this.#leader = known;
    this.#campaignNow();
  }

  /**
   * Campaigns. A candidate whose campaign fails (etcd unreachable for longer than the TTL) tries
   * again after a pause; only a leader that loses its lease is finished (see {@link onLost}).
   */
  #campaignNow(): void {
    if (this.#state !== "candidate") return;
    const campaign = this.#election.campaign(JSON.stringify(this.#self));
    this.#campaign = campaign;
    const lease = (campaign as unknown as { lease: Lease }).lease;
    lease.on("keepaliveFired", () => {
      this.#lastKeepaliveFired = performance.now();
    });
    lease.on("keepaliveSucceeded", () => {
      // Renewed at least as late as the request was sent: valid for a TTL from then.
      this.#validUntil = this.#lastKeepaliveFired + this.#ttlMs - this.#marginMs;
    });
    campaign.on("error", (error) => {
      if (this.#state === "candidate") {
        this.#log.warn({ err: error }, "campaign failed; campaigning again in a second");
        campaign.resign().catch(() => undefined);
        setTimeout(() => this.#campaignNow(), 1_000).unref();
        return;
      }
      this.#lose(
        new RuntimeError(`leadership campaign failed: ${error.message}`, {
          code: Code.Unavailable,
          cause: error,
        }),
      );
    });
    campaign.on("elected", () => {
      void this.#becomeLeader(campaign, lease);
    });
  }

  async #becomeLeader(campaign: Campaign, lease: Lease): Promise<void> {
    if (this.#state !== "candidate") return;
    try {
      const requestedAt = performance.now();
      await lease.keepaliveOnce();
      this.#validUntil = requestedAt + this.#ttlMs - this.#marginMs;
      const key = await campaign.getCampaignKey();
      const leaseId = await lease.grant();
      this.#fence = { key, leaseId };
    } catch (error) {
      this.#lose(
        new RuntimeError(`could not confirm the leadership lease: ${(error as Error).message}`, {
          code: Code.Unavailable,
          cause: error,
        }),
      );
      return;
    }
    this.#state = "leader";
    this.#log.info({ self: this.#self, ttlMs: this.#ttlMs }, "elected leader");
    this.#watchdog = setInterval(() => this.isLeaderNow(), 100);
    this.#watchdog.unref();
    for (const l of this.#elected) l();
    for (const l of this.#changed) l(this.#self);
  }

  #lose(reason: RuntimeError): void {
    if (this.#state === "lost" || this.#state === "closed") return;
    const wasLeader = this.#state === "leader";
    this.#state = "lost";
    this.#fence = undefined;
    if (this.#watchdog !== undefined) clearInterval(this.#watchdog);
    this.#log.error({ err: reason, wasLeader }, "leadership lost");
    for (const l of this.#lost) l(reason);
  }

  /** Resigns (a follower takes over at once instead of after the TTL) and stops observing. Idempotent. */
  async close(): Promise<void> {
    if (this.#state === "closed") return;
    this.#state = "closed";
    this.#fence = undefined;
    if (this.#watchdog !== undefined) clearInterval(this.#watchdog);
    await this.#campaign?.resign().catch(() => undefined);
    await this.#observer?.cancel().catch(() => undefined);
  }
}

/** The election's name under the prefix. */
const ELECTION = "election";

function parseIdentity(value: string | undefined): CoordinatorIdentity | undefined {
  if (value === undefined) return undefined;
  try {
    const parsed = JSON.parse(value) as Partial<CoordinatorIdentity>;
    if (
      typeof parsed.id === "string" &&
      typeof parsed.grpc === "string" &&
      typeof parsed.http === "string"
    ) {
      return { id: parsed.id, grpc: parsed.grpc, http: parsed.http };
    }
  } catch {
    // Not one of ours: no known leader.
  }
  return undefined;
}
