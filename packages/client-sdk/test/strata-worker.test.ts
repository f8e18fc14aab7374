import { once } from "node:events";
import { Code, RuntimeError } from "@strata/runtime-core";
import { connectWorker, type MembershipEvent, type StrataWorker } from "../src/index.js";
import {
  type CoordinatorProcess,
  makeTempDir,
  removeDir,
  startCoordinator,
  waitFor,
} from "./helpers/coordinator-process.js";

// One real coordinator process for the file; short heartbeat timeout so deaths are quick.
let coordinator: CoordinatorProcess;
let dataDir: string;
const workers: StrataWorker[] = [];

async function worker(id: string, extra: Partial<Parameters<typeof connectWorker>[0]> = {}) {
  const w = await connectWorker({
    addresses: coordinator.grpc,
    workerId: id,
    resources: false,
    ...extra,
  });
  workers.push(w);
  return w;
}

async function metric(name: string): Promise<string> {
  const text = await (await fetch(`http://${coordinator.http}/metrics`)).text();
  return text
    .split("\n")
    .filter((l) => l.startsWith(name))
    .join("\n");
}

beforeAll(async () => {
  dataDir = makeTempDir();
  coordinator = await startCoordinator(dataDir, { args: ["--heartbeat-timeout-ms", "1500"] });
});

afterEach(async () => {
  await Promise.all(workers.splice(0).map((w) => w.close()));
});

afterAll(async () => {
  await coordinator.stop();
  removeDir(dataDir);
});

describe("StrataWorker", () => {
  test("registers, learns rank and world size, and heartbeats over a stream", async () => {
    const a = await worker("sdk-a");
    expect(a.rank).toBe(0);
    expect(a.worldSize).toBe(1);
    expect(a.membershipVersion).toBeGreaterThan(0);
    expect(a.heartbeatIntervalMs).toBe(500); // the coordinator asks for timeout / 3
    a.setStatus({ state: "training", step: 7, epoch: 1, task: "unit" });
    await waitFor("stream heartbeats", async () =>
      /strata_heartbeats_total\{transport="stream"\} [1-9]/.test(
        await metric("strata_heartbeats_total"),
      ),
    );
    expect(a.heartbeatTransport).toBe("stream");
  });

  test("a join is a membership event and aborts the step signal; close() deregisters at once", async () => {
    const a = await worker("sdk-b");
    const signal = a.stepSignal;
    const changed = once(a, "membership") as Promise<[MembershipEvent]>;
    const b = await worker("sdk-c");
    const [event] = await changed;
    expect(event.worldSize).toBe(2);
    expect(signal.aborted).toBe(true);
    expect((signal.reason as RuntimeError).code).toBe(Code.Aborted);
    expect(a.stepSignal.aborted).toBe(false);
    expect(b.rank).not.toBe(a.rank);

    const left = once(a, "membership") as Promise<[MembershipEvent]>;
    const closing = b.close();
    expect(b.close()).toBe(closing); // idempotent: the same promise
    await closing;
    const [after] = await left;
    expect(after.worldSize).toBe(1);
  });

  test("membership_changed arrives as a command", async () => {
    const a = await worker("sdk-d");
    const commands = a.commands();
    await worker("sdk-e");
    const first = await commands.next();
    expect(first.value).toMatchObject({ type: "membership_changed" });
    await commands.return?.();
  });

  test("a barrier releases every member, and a signal withdraws an arrival", async () => {
    const a = await worker("sdk-f");
    const b = await worker("sdk-g");
    const [ra, rb] = await Promise.all([
      a.barrier("sync-1", { includeParticipantIds: true }),
      b.barrier("sync-1", { includeParticipantIds: true }),
    ]);
    expect(ra.participants).toBe(2);
    expect([...ra.participantIds].sort()).toEqual(["sdk-f", "sdk-g"]);
    expect(rb.arrivalOrder + ra.arrivalOrder).toBe(3);

    const controller = new AbortController();
    const waiting = a.barrier("sync-2", { signal: controller.signal });
    controller.abort();
    await expect(waiting).rejects.toMatchObject({ code: Code.Canceled });
    await expect(a.barrier("sync-3", { barrierTimeoutMs: 200 })).rejects.toMatchObject({
      code: Code.DeadlineExceeded,
    });
  });

  test("a worker declared dead fails the survivors' barrier with ABORTED", async () => {
    const a = await worker("sdk-h");
    const silent = await worker("sdk-i", { heartbeatIntervalMs: 60_000 });
    // The silent one heartbeated once at registration; then it is quiet for the timeout.
    silent.abandon();
    const started = Date.now();
    await expect(a.barrier("sync-dead")).rejects.toMatchObject({ code: Code.Aborted });
    expect(Date.now() - started).toBeLessThan(1_500 + 2_000);
  });

  test("bad input is a RuntimeError naming the field", async () => {
    const a = await worker("sdk-j");
    const error = await a
      .registerDataset({ datasetId: "bad id", path: "/x", totalSamples: 10, shardSize: 5 })
      .catch((e: unknown) => e as RuntimeError);
    expect(error).toBeInstanceOf(RuntimeError);
    expect((error as RuntimeError).code).toBe(Code.InvalidArgument);
    expect((error as RuntimeError).details.field).toBe("dataset_id");
    await expect(connectWorker({ addresses: "nope", workerId: "x" })).rejects.toMatchObject({
      code: Code.InvalidArgument,
    });
  });
});
