import { join } from "node:path";
import {
  apiEventSchema,
  eventsResponseSchema,
  historyResponseSchema,
  logsResponseSchema,
  streamHelloSchema,
} from "../../src/api/index.js";
import {
  type CoordinatorProcess,
  makeTempDir,
  removeDir,
  startCoordinatorProcess,
} from "../helpers/coordinator-process.js";
import { connect, status, WorkerStatus_State } from "../helpers/grpc-clients.js";
import { getParsed, SseClient } from "./http-client.js";

/** The `coordinator` events of a stream, checked against the contract, with their SSE ids. */
function eventsOf(stream: SseClient) {
  return stream.messages
    .filter((m) => m.event === "coordinator")
    .map((m) => {
      const event = apiEventSchema.parse(JSON.parse(m.data));
      expect(m.id).toBe(String(event.seq));
      return event;
    });
}

function expectIncreasing(seqs: readonly number[]): void {
  for (let i = 1; i < seqs.length; i++) expect(seqs[i]).toBeGreaterThan(seqs[i - 1] as number);
}

test("events arrive in seq order and resume without gaps or duplicates across a reconnect, a restart and a kill -9", async () => {
  const dir = makeTempDir();
  const dataDir = join(dir, "data");
  const startedAt = Date.now();
  let coordinator: CoordinatorProcess = await startCoordinatorProcess(dataDir, [
    "--heartbeat-timeout-ms",
    "60000",
  ]);
  let client = connect(coordinator.grpc);
  const streams: SseClient[] = [];
  const open = async (path: string, headers: Record<string, string> = {}) => {
    const stream = await SseClient.open(`http://${coordinator.http}${path}`, headers);
    streams.push(stream);
    return stream;
  };
  try {
    // 1. Live: every event, in order, each seq one more than the last, id = seq.
    const first = await open("/api/events");
    const hello = streamHelloSchema.parse(
      JSON.parse((await first.next((m) => m.event === "hello")).data),
    );
    for (const id of ["e-0", "e-1", "e-2"]) await client.registerWorker({ workerId: id });
    await first.next((m) => m.data.includes('"membership_changed"') && m.data.includes('"e-2"'));
    const live = eventsOf(first);
    expect(live[0]?.seq).toBe(hello.seq + 1);
    expect(live.map((e) => e.seq)).toEqual(live.map((_, i) => hello.seq + 1 + i));
    expect(live.filter((e) => e.type === "worker_registered").map((e) => e.worker_id)).toEqual([
      "e-0",
      "e-1",
      "e-2",
    ]);
    const seenUpTo = live[live.length - 1]?.seq as number;
    first.close();

    // 2. Missed while disconnected, then resumed with Last-Event-ID and with ?after=.
    await client.heartbeat({ workerId: "e-0", status: status(WorkerStatus_State.TRAINING, 5) });
    await client.deregisterWorker("e-2");
    const stored = await getParsed(
      `http://${coordinator.http}`,
      `/api/events/recent?limit=1000`,
      eventsResponseSchema,
    );
    const missed = stored.events.filter((e) => e.seq > seenUpTo);
    expect(missed.map((e) => e.type)).toEqual(
      expect.arrayContaining(["worker_state_changed", "worker_deregistered"]),
    );
    const resumed = await open("/api/events", { "last-event-id": String(seenUpTo) });
    const viaQuery = await open(`/api/events?after=${seenUpTo}`);
    await client.registerWorker({ workerId: "e-3" });
    for (const stream of [resumed, viaQuery]) {
      await stream.next((m) => m.data.includes('"worker_registered"') && m.data.includes('"e-3"'));
      const got = eventsOf(stream);
      expect(got.slice(0, missed.length)).toEqual(missed);
      expect(got.map((e) => e.seq)).toEqual(got.map((_, i) => seenUpTo + 1 + i));
    }
    const beforeRestart = eventsOf(resumed);
    const lastSeen = beforeRestart[beforeRestart.length - 1]?.seq as number;
    for (const s of streams.splice(0)) s.close();

    // 3. A clean restart: resume from the last seen seq; nothing old repeats, new seqs are higher.
    client.close();
    expect(await coordinator.stop()).toBe(0);
    coordinator = await startCoordinatorProcess(dataDir, ["--heartbeat-timeout-ms", "60000"]);
    client = connect(coordinator.grpc);
    const afterRestart = await open("/api/events", { "last-event-id": String(lastSeen) });
    await afterRestart.next((m) => m.data.includes("started: gRPC"));
    const replayed = eventsOf(afterRestart);
    expect(replayed.every((e) => e.seq > lastSeen)).toBe(true);
    expectIncreasing(replayed.map((e) => e.seq));
    expect(replayed[0]?.message).toContain("stopping"); // the first process's last event
    await client.registerWorker({ workerId: "k-0" });
    const kEvent = await afterRestart.next(
      (m) => m.data.includes('"worker_registered"') && m.data.includes('"k-0"'),
    );
    const kSeq = Number(kEvent.id);
    // A tick follows a history flush: once it arrives, k-0's registration is on disk.
    await afterRestart.next((m) => m.event === "tick");
    for (const s of streams.splice(0)) s.close();

    // 4. kill -9, then a new process: the history is there and seq never goes back.
    client.close();
    expect(await coordinator.stop("SIGKILL")).toBe("SIGKILL");
    coordinator = await startCoordinatorProcess(dataDir, ["--heartbeat-timeout-ms", "60000"]);
    const base = `http://${coordinator.http}`;
    const history = await getParsed(base, "/api/events/recent?limit=1000", eventsResponseSchema);
    const seqs = history.events.map((e) => e.seq);
    expectIncreasing(seqs);
    expect(history.events.find((e) => e.seq === kSeq)?.worker_id).toBe("k-0");
    expect(
      history.events.filter((e) => e.type === "worker_registered").map((e) => e.worker_id),
    ).toEqual(["e-0", "e-1", "e-2", "e-3", "k-0"]);
    const started = history.events.filter((e) => e.message.includes("started: gRPC"));
    expect(started).toHaveLength(3);
    expect(started[2]?.seq).toBeGreaterThan(kSeq);
    const resumedAfterKill = await open("/api/events", { "last-event-id": String(kSeq) });
    await resumedAfterKill.next((m) => m.data.includes("started: gRPC"));
    expect(eventsOf(resumedAfterKill).every((e) => e.seq > kSeq)).toBe(true);
    // Logs and metric samples from the first processes are still there.
    const logs = await getParsed(base, "/api/logs?limit=1000&q=e-1", logsResponseSchema);
    expect(logs.length).toBeGreaterThan(0);
    const samples = await getParsed(
      base,
      `/api/history?series=workers_alive&from=${startedAt}&step_ms=1000`,
      historyResponseSchema,
    );
    const alive = samples.series.workers_alive ?? [];
    expect(alive.filter((v) => v === 3).length).toBeGreaterThan(0); // e-0, e-1, e-3 or e-0..e-2
  } finally {
    for (const s of streams) s.close();
    client.close();
    await coordinator.stop();
    removeDir(dir);
  }
}, 60_000);
