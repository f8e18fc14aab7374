// A benchmark load generator, started with child_process.fork. It receives one command at a
// time over IPC, runs it with several channels, and answers with the measurements.
import { performance } from "node:perf_hooks";
import { credentials, Metadata } from "@grpc/grpc-js";
import { CoordinatorClient } from "@strata/proto";

export type LoadCommand =
  | { cmd: "connect"; target: string; channels: number }
  | { cmd: "register"; ids: string[]; concurrency: number }
  | { cmd: "hammer"; ids: string[]; durationMs: number; inflight: number }
  | { cmd: "paced"; ids: string[]; durationMs: number; warmupMs: number; stream?: boolean }
  | { cmd: "arm"; ids: string[]; barrierId: string }
  | {
      cmd: "calls";
      method: "getLatestCheckpoint" | "getShardAssignments";
      workerId: string;
      datasetId: string;
      count: number;
    }
  | { cmd: "release"; id: string; barrierId: string }
  | { cmd: "close" };

let clients: CoordinatorClient[] = [];
let pending: Promise<unknown>[] = [];
let armedAt = 0;
const reply = (message: unknown) => process.send?.(message);

function heartbeat(client: CoordinatorClient, workerId: string): Promise<void> {
  return new Promise((resolve, reject) => {
    client.heartbeat(
      { workerId, timestampMs: BigInt(Date.now()), status: undefined, resources: undefined },
      (error) => (error ? reject(error) : resolve()),
    );
  });
}

function register(client: CoordinatorClient, workerId: string): Promise<void> {
  return new Promise((resolve, reject) => {
    client.registerWorker(
      { workerId, hostname: "bench", port: 0, gpuCount: 0, memoryBytes: 0n, metadata: {} },
      (error) => (error ? reject(error) : resolve()),
    );
  });
}

function barrier(client: CoordinatorClient, workerId: string, barrierId: string): Promise<number> {
  return new Promise((resolve, reject) => {
    client.waitBarrier(
      { workerId, barrierId, step: 0n, timeoutMs: 0n, includeParticipantIds: false },
      new Metadata(),
      { deadline: Date.now() + 120_000 },
      (error) => (error ? reject(error) : resolve(performance.now())),
    );
  });
}

const pick = (i: number) => clients[i % clients.length] as CoordinatorClient;

async function run(command: LoadCommand): Promise<unknown> {
  switch (command.cmd) {
    case "connect":
      clients = Array.from(
        { length: command.channels },
        // A distinct option per channel so grpc-js does not share one subchannel.
        (_, i) =>
          new CoordinatorClient(command.target, credentials.createInsecure(), {
            "bench.channel": i,
          }),
      );
      return { ok: true };
    case "register": {
      const started = performance.now();
      let next = 0;
      let errors = 0;
      await Promise.all(
        Array.from({ length: command.concurrency }, async () => {
          while (next < command.ids.length) {
            const i = next++;
            await register(pick(i), command.ids[i] as string).catch(() => errors++);
          }
        }),
      );
      return { ms: performance.now() - started, count: command.ids.length, errors };
    }
    case "hammer": {
      const end = performance.now() + command.durationMs;
      let count = 0;
      let errors = 0;
      let next = 0;
      const started = performance.now();
      await Promise.all(
        Array.from({ length: command.inflight }, async () => {
          while (performance.now() < end) {
            const i = next++;
            try {
              await heartbeat(pick(i), command.ids[i % command.ids.length] as string);
              count++;
            } catch {
              errors++;
            }
          }
        }),
      );
      return { count, errors, ms: performance.now() - started };
    }
    case "paced": {
      // Each worker heartbeats once per second at its own phase; latency is measured from send.
      // With `stream`, each worker keeps one StreamHeartbeats stream open (answers come in order).
      const n = command.ids.length;
      const latencies: number[] = [];
      let errors = 0;
      let maxLagMs = 0;
      const streams = command.stream
        ? command.ids.map((_, i) => {
            const stream = pick(i).streamHeartbeats();
            const sentAt: { at: number; measure: boolean }[] = [];
            stream.on("data", () => {
              const sent = sentAt.shift();
              if (sent?.measure) latencies.push(performance.now() - sent.at);
            });
            stream.on("error", () => {
              errors++;
            });
            return { stream, sentAt };
          })
        : [];
      const started = performance.now();
      const inflight: Promise<void>[] = [];
      let sent = 0;
      for (;;) {
        const now = performance.now();
        const elapsed = now - started;
        if (elapsed >= command.durationMs) break;
        // Workers due by now: worker i is due at i/n seconds into each second.
        const due = Math.floor((elapsed / 1000) * n);
        if (due - sent > 0) maxLagMs = Math.max(maxLagMs, ((due - sent) / n) * 1000);
        while (sent < due) {
          const i = sent++;
          const at = performance.now();
          const measure = elapsed >= command.warmupMs;
          const workerId = command.ids[i % n] as string;
          const s = streams[i % n];
          if (s !== undefined) {
            s.sentAt.push({ at, measure });
            s.stream.write({
              workerId,
              timestampMs: BigInt(Date.now()),
              status: undefined,
              resources: undefined,
            });
            continue;
          }
          inflight.push(
            heartbeat(pick(i), workerId).then(
              () => {
                if (measure) latencies.push(performance.now() - at);
              },
              () => {
                errors++;
              },
            ),
          );
        }
        await new Promise((r) => setTimeout(r, 2));
      }
      await Promise.allSettled(inflight);
      if (streams.length > 0) {
        // Let the last answers arrive, then close the streams.
        const deadline = performance.now() + 2000;
        while (streams.some((s) => s.sentAt.length > 0) && performance.now() < deadline) {
          await new Promise((r) => setTimeout(r, 10));
        }
        for (const s of streams) s.stream.end();
      }
      return { latencies, errors, sent, maxLagMs };
    }
    case "calls": {
      // Sequential calls of one method; latency of each, in ms.
      const latencies: number[] = [];
      const client = pick(0);
      for (let i = 0; i < command.count; i++) {
        const at = performance.now();
        await new Promise<void>((resolve, reject) => {
          const done = (error: unknown) => (error ? reject(error) : resolve());
          if (command.method === "getLatestCheckpoint") {
            client.getLatestCheckpoint({ workerId: command.workerId, jobId: "" }, done);
          } else {
            client.getShardAssignments(
              {
                workerId: command.workerId,
                datasetId: command.datasetId,
                epoch: 0n,
                pageSize: 0n,
                pageToken: "",
              },
              done,
            );
          }
        });
        latencies.push(performance.now() - at);
      }
      return { latencies };
    }
    case "arm": {
      pending = command.ids.map((id, i) => barrier(pick(i), id, command.barrierId));
      armedAt = performance.now();
      return { ok: true, armedAt };
    }
    case "release": {
      const sentAt = performance.now();
      const last = barrier(pick(0), command.id, command.barrierId);
      const ends = (await Promise.all([...pending, last])) as number[];
      pending = [];
      return { clientMs: Math.max(...ends) - sentAt };
    }
    case "close":
      for (const c of clients) c.close();
      setImmediate(() => process.exit(0));
      return { ok: true };
  }
}

process.on("message", (command: LoadCommand) => {
  run(command).then(reply, (error: unknown) => reply({ error: String(error) }));
});
