import { Etcd3 } from "etcd3";
import { observeLeader } from "../../src/ha/leader-observer.js";
import { Leadership } from "../../src/ha/leadership.js";
import { makeTempDir, removeDir } from "../helpers/coordinator-process.js";
import { type EtcdProcess, startEtcd } from "../helpers/etcd-process.js";

let dir: string;
let etcd: EtcdProcess;
const clients: Etcd3[] = [];

beforeAll(async () => {
  dir = makeTempDir("strata-observer-");
  etcd = await startEtcd(dir);
});

afterAll(async () => {
  for (const client of clients) client.close();
  await etcd?.stop("SIGKILL");
  removeDir(dir);
});

function client(): Etcd3 {
  const c = new Etcd3({ hosts: `http://${etcd.endpoint}` });
  clients.push(c);
  return c;
}

async function until(what: string, predicate: () => boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

jest.setTimeout(60_000);

test("coordinators that start together all name the one that leads, the oldest candidate", async () => {
  // Their campaigns land between an observer's first read and its watch, so one watch response
  // holds several candidates: the first (oldest) leads, not the last.
  for (let round = 0; round < 8; round++) {
    const prefix = `/together-${round}/`;
    const members = [0, 1, 2].map(
      () => new Leadership({ client: client(), prefix, ttlSeconds: 5 }),
    );
    try {
      await Promise.all(
        members.map((m, i) => m.start({ id: `c${i}`, grpc: `g${i}:1`, http: `h${i}:1` })),
      );
      await until("a leader", () => members.some((m) => m.state === "leader"));
      const leader = members.find((m) => m.state === "leader") as Leadership;
      const oldest = await client()
        .namespace(prefix)
        .getAll()
        .prefix("election/")
        .sort("Create", "Ascend")
        .limit(1)
        .strings();
      expect(Object.values(oldest).map((v) => JSON.parse(v).id)).toEqual([leader.self.id]);
      // Every member, leader or follower, names it (allow the observers a moment to hear it).
      const named = () => members.map((m) => m.leader?.id);
      await until("every member to name the leader", () =>
        named().every((id) => id === leader.self.id),
      ).catch(() => undefined);
      expect({ round, named: named() }).toEqual({
        round,
        named: [leader.self.id, leader.self.id, leader.self.id],
      });
    } finally {
      await Promise.all(members.map((m) => m.close()));
    }
  }
});

test("the observer follows the election: first candidate, the next one when it goes, none, a new one", async () => {
  const c = client();
  const election = c.namespace("/observed/").namespace("election/election/");
  const changes: (string | undefined)[] = [];
  const errors: Error[] = [];
  const observer = await observeLeader(election, {
    onChange: (leader) => changes.push(leader),
    onError: (error) => errors.push(error),
  });
  try {
    expect(observer.leader).toBeUndefined();
    await election.put("a").value("first");
    await election.put("b").value("second");
    await until("the first candidate", () => observer.leader === "first");
    // The leader proclaims a new value.
    await election.put("a").value("first, again");
    await until("the new value", () => observer.leader === "first, again");
    await election.delete().key("a");
    await until("the next candidate", () => observer.leader === "second");
    await election.delete().key("b");
    await until("no leader", () => observer.leader === undefined);
    await election.put("c").value("third");
    await until("a new candidate", () => observer.leader === "third");
    expect(changes).toEqual(["first", "first, again", "second", undefined, "third"]);
    expect(errors).toEqual([]);
  } finally {
    await observer.cancel();
  }
  // Idempotent, and nothing more is reported.
  await observer.cancel();
  await election.put("d").value("after");
  await new Promise((r) => setTimeout(r, 200));
  expect(changes.at(-1)).toBe("third");
});

test("a new observer reads the current leader at once", async () => {
  const election = client().namespace("/observed-later/").namespace("election/election/");
  await election.put("x").value("older");
  await election.put("y").value("newer");
  const observer = await observeLeader(election, {
    onChange: () => undefined,
    onError: () => undefined,
  });
  expect(observer.leader).toBe("older");
  await observer.cancel();
});
