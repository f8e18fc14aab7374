import type { IKeyValue, Namespace, Watcher } from "etcd3";

/** The current leader of an election, kept up to date; see {@link observeLeader}. */
export interface LeaderObserver {
  /** The leader's campaign value, undefined while no candidate campaigns. */
  readonly leader: string | undefined;
  /** Stops observing. Idempotent. */
  cancel(): Promise<void>;
}

/** What {@link observeLeader} reports while it runs. */
export interface LeaderObserverListener {
  /** The leader (its campaign value) changed; undefined: no candidate is left. */
  onChange(leader: string | undefined): void;
  /** etcd failed a read or a watch; observing starts over after `retryMs`. */
  onError(error: Error): void;
}

/**
 * Observes an election kept in `election` (the layout of etcd's election recipe, which the
 * `etcd3` client's `Election` uses: one key per candidate, the oldest by create revision leads),
 * the way etcd's own Go client does (`concurrency.Election.Observe`): read the oldest key; when
 * there is none, watch for the first candidate to appear; then watch the leader's key until it is
 * deleted, and start over.
 *
 * We do not use the `etcd3` client's `ElectionObserver`: when several candidates appear in one
 * watch response (coordinators started together, so their campaigns land between its read and
 * its watch), it takes the last of them, the newest, as the leader, and then watches that key;
 * a follower so misled names the wrong leader until that candidate goes.
 *
 * Resolves after the first read (`leader` then holds the current leader, if any).
 */
export async function observeLeader(
  election: Namespace,
  listener: LeaderObserverListener,
  retryMs = 1_000,
): Promise<LeaderObserver> {
  let running = true;
  let current: string | undefined;
  let watcher: Watcher | undefined;
  let stopWaiting: (() => void) | undefined;

  const set = (value: string | undefined) => {
    if (value === current) return;
    current = value;
    listener.onChange(value);
  };

  /** Resolves with the first event `pick` accepts, or when cancelled (undefined). */
  async function watchUntil<T>(
    create: () => Promise<Watcher>,
    pick: (events: { type: string; kv: IKeyValue }[]) => T | undefined,
  ): Promise<T | undefined> {
    const w = await create();
    watcher = w;
    try {
      return await new Promise<T | undefined>((resolve, reject) => {
        stopWaiting = () => resolve(undefined);
        w.on("data", (response) => {
          const found = pick(response.events);
          if (found !== undefined) resolve(found);
        });
        w.on("error", reject);
        if (!running) resolve(undefined);
      });
    } finally {
      stopWaiting = undefined;
      watcher = undefined;
      await w.cancel().catch(() => undefined);
    }
  }

  /** One round: the current leader (or the first candidate), then its key until it goes. */
  async function round(first: { kvs: IKeyValue[]; revision: string }): Promise<void> {
    let leader = first.kvs[0];
    let revision = BigInt(first.revision);
    if (leader === undefined) {
      set(undefined);
      // The first candidate to appear leads: events come in revision order, so take the first
      // put, not the last, of a response that holds several.
      const appeared = await watchUntil(
        () => election.watch().prefix("").startRevision(String(revision)).create(),
        (events) => events.find((e) => e.type === "Put")?.kv,
      );
      if (appeared === undefined) return;
      leader = appeared;
      revision = BigInt(appeared.mod_revision);
    }
    set(leader.value.toString());
    const key = leader.key.toString();
    await watchUntil(
      () =>
        election
          .watch()
          .key(key)
          .startRevision(String(revision + 1n))
          .create(),
      (events) => {
        for (const event of events) {
          if (event.type === "Delete") return true;
          set(event.kv.value.toString()); // the leader proclaimed a new value
        }
        return undefined;
      },
    );
  }

  const read = async () => {
    const response = await election.getAll().sort("Create", "Ascend").limit(1).exec();
    return { kvs: response.kvs, revision: response.header.revision };
  };

  const initial = await read();
  current = initial.kvs[0]?.value.toString();
  const loop = (async () => {
    let next: { kvs: IKeyValue[]; revision: string } | undefined = initial;
    while (running) {
      try {
        await round(next ?? (await read()));
      } catch (error) {
        if (!running) return;
        listener.onError(error as Error);
        await new Promise((resolve) => setTimeout(resolve, retryMs).unref());
      }
      next = undefined;
    }
  })();

  let cancelling: Promise<void> | undefined;
  return {
    get leader() {
      return current;
    },
    cancel() {
      cancelling ??= (async () => {
        running = false;
        stopWaiting?.();
        await watcher?.cancel().catch(() => undefined);
        await loop;
      })();
      return cancelling;
    },
  };
}
