// Checkpoint benchmark: `pnpm --filter @strata/checkpoint bench`.
// For a 512 MiB state (8 × 64 MiB buffers) it measures, in one run, each figure against a peer:
//   1. how long `save` blocks the caller   vs  one in-memory copy of the same bytes   (target ≤ 1.5×)
//   2. background persist to local disk    vs  plain write + fsync of the same bytes  (target ≥ 0.9×),
//      as the median of per-round ratios (ours and the peer back to back in each round)
//   3. background persist to S3 (s3rver)   vs  `/usr/bin/aws s3 cp --recursive`       (target ≥ 1.0×)
import { execFile, execFileSync } from "node:child_process";
import { randomFillSync } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, open, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { createLocalStorage, createMemoryStorage, type StorageBackend } from "@strata/storage";
import { createS3Storage } from "@strata/storage/s3";
import { S3RVER_CREDENTIALS, startS3rver } from "@strata/storage/testing";
import { createCheckpointManager } from "../src/index.js";

const MiB = 1024 * 1024;
const BUFFERS = 8;
const BUFFER_BYTES = 64 * MiB;
const TOTAL = BUFFERS * BUFFER_BYTES;
const RUNS = Number(process.env.BENCH_RUNS ?? 7);
const AWS = "/usr/bin/aws";
const packageDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");

/**
 * Flushes every dirty page on the machine (ours and other processes') before a timed section, so
 * neither side pays for write-back the other (or a previous run) left behind.
 */
const settleDisk = () => {
  collectGarbage();
  execFileSync("sync");
};

// A full GC before each timed section, so garbage from an earlier run (512 MiB copies) is not
// collected in the middle of the next measurement, whichever side that is.
setFlagsFromString("--expose-gc");
const collectGarbage = runInNewContext("gc") as () => void;

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1
    ? (s[mid] as number)
    : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
};
const mibps = (bytes: number, ms: number) => bytes / MiB / (ms / 1000);
const results: {
  name: string;
  ours: string;
  peer: string;
  ratio: number;
  target: string;
  pass: boolean;
}[] = [];

function makeState(): Record<string, Uint8Array> {
  const buffers: Record<string, Uint8Array> = {};
  for (let i = 0; i < BUFFERS; i++)
    buffers[`layer${i}`] = randomFillSync(Buffer.allocUnsafeSlow(BUFFER_BYTES));
  return buffers;
}

/** The peer for the stall: one copy of every buffer into fresh memory (what a snapshot must do). */
function copyOnce(buffers: Record<string, Uint8Array>): number {
  collectGarbage();
  const t = performance.now();
  const copies = Object.values(buffers).map((b) => {
    const c = Buffer.allocUnsafeSlow(b.length);
    c.set(b);
    return c;
  });
  const ms = performance.now() - t;
  if (copies.length !== BUFFERS) throw new Error("unreachable");
  return ms;
}

/** The peer for local persistence: write each buffer to its own file and fsync it. */
async function plainWriteFsync(dir: string, buffers: Record<string, Uint8Array>): Promise<number> {
  await mkdir(dir, { recursive: true });
  settleDisk();
  const t = performance.now();
  for (const [name, bytes] of Object.entries(buffers)) {
    const fh = await open(path.join(dir, `${name}.bin`), "w");
    try {
      let off = 0;
      while (off < bytes.length)
        off += (await fh.write(bytes, off, bytes.length - off)).bytesWritten;
      await fh.sync();
    } finally {
      await fh.close();
    }
  }
  return performance.now() - t;
}

async function saveOnce(
  storage: StorageBackend,
  jobId: string,
  step: number,
  buffers: Record<string, Uint8Array>,
) {
  const manager = createCheckpointManager({ storage, jobId, prefix: "bench" });
  settleDisk();
  const t = performance.now();
  const handle = await manager.save({ step, buffers });
  const stallMs = performance.now() - t;
  const ref = await handle.committed;
  await manager.close();
  return { stallMs, persistMs: ref.persistMs };
}

function record(
  name: string,
  ours: string,
  peer: string,
  ratio: number,
  target: string,
  pass: boolean,
) {
  results.push({ name, ours, peer, ratio, target, pass });
  console.log(
    `${pass ? "PASS" : "FAIL"}  ${name}: ours ${ours}, peer ${peer}, ratio ${ratio.toFixed(2)} (target ${target})`,
  );
}

async function main(): Promise<void> {
  console.log(
    `checkpoint bench: state ${TOTAL / MiB} MiB in ${BUFFERS} buffers, ${RUNS} runs each, median reported`,
  );
  const buffers = makeState();
  const work = await mkdtemp(path.join(tmpdir(), "strata-ckpt-bench-"));
  try {
    // 1: the stall. Ours saves into a fresh MemoryStorage (the background write is awaited before
    // the next run, so it never overlaps a timed section); the peer copies the same bytes once.
    const stall: number[] = [];
    const copy: number[] = [];
    for (let run = 0; run < RUNS; run++) {
      copy.push(copyOnce(buffers));
      stall.push((await saveOnce(createMemoryStorage(), `stall-${run}`, 1, buffers)).stallMs);
      console.log(
        `  run ${run + 1}: save stall ${stall.at(-1)?.toFixed(1)} ms, memcpy ${copy.at(-1)?.toFixed(1)} ms`,
      );
    }
    // 2: local persistence, alternating ours and plain write+fsync (and which goes first).
    // State-neutral: each side writes into a fresh folder and deletes it right after its timed
    // section (the disk is mounted with `discard`, so files left behind, or deleted later, change
    // how fast it takes the next writes), the disk is synced (which also waits for the discards)
    // and garbage collected before every timed section, one untimed round warms both up, and the
    // figure is the median of per-round ratios: the two runs of a round are adjacent in time, so
    // load from other jobs on this shared machine falls on both.
    const local = createLocalStorage({ root: path.join(work, "store") });
    const persist: number[] = [];
    const plain: number[] = [];
    const ratios: number[] = [];
    const runOurs = async (run: number) => {
      const ms = (await saveOnce(local, `local-${run}`, 1, buffers)).persistMs;
      await rm(path.join(work, "store"), { recursive: true, force: true });
      return ms;
    };
    const runPlain = async () => {
      const ms = await plainWriteFsync(path.join(work, "plain"), buffers);
      await rm(path.join(work, "plain"), { recursive: true, force: true });
      return ms;
    };
    await runOurs(-1);
    await runPlain();
    for (let run = 0; run < RUNS; run++) {
      let oursMs: number;
      let plainMs: number;
      if (run % 2 === 0) {
        oursMs = await runOurs(run);
        plainMs = await runPlain();
      } else {
        plainMs = await runPlain();
        oursMs = await runOurs(run);
      }
      persist.push(oursMs);
      plain.push(plainMs);
      ratios.push(plainMs / oursMs);
      console.log(
        `  run ${run + 1}: persist ${mibps(TOTAL, oursMs).toFixed(0)} MiB/s, write+fsync ${mibps(TOTAL, plainMs).toFixed(0)} MiB/s, ratio ${(plainMs / oursMs).toFixed(2)}`,
      );
    }
    const stallMs = median(stall);
    const copyMs = median(copy);
    record(
      "save() stall vs one memcpy",
      `${stallMs.toFixed(1)} ms`,
      `${copyMs.toFixed(1)} ms`,
      stallMs / copyMs,
      "≤ 1.5",
      stallMs / copyMs <= 1.5,
    );
    const localRatio = median(ratios);
    record(
      "persist to local disk vs write+fsync",
      `${mibps(TOTAL, median(persist)).toFixed(0)} MiB/s`,
      `${mibps(TOTAL, median(plain)).toFixed(0)} MiB/s`,
      localRatio,
      "≥ 0.9",
      localRatio >= 0.9,
    );

    // 3: S3 through s3rver, against the AWS CLI uploading the same files.
    if (!existsSync(AWS)) throw new Error(`${AWS} is missing: apt-get install awscli`);
    const server = await startS3rver({ bucket: "bench", resolveFrom: packageDir });
    const s3 = createS3Storage({
      bucket: server.bucket,
      endpoint: server.endpoint,
      region: "us-east-1",
      credentials: S3RVER_CREDENTIALS,
      onWarning: () => {},
    });
    try {
      // The AWS CLI uploads files: the same 8 buffers, written once, untimed.
      await plainWriteFsync(path.join(work, "upload"), buffers);
      const oursS3: number[] = [];
      const cli: number[] = [];
      const env = {
        ...process.env,
        AWS_ACCESS_KEY_ID: S3RVER_CREDENTIALS.accessKeyId,
        AWS_SECRET_ACCESS_KEY: S3RVER_CREDENTIALS.secretAccessKey,
        AWS_DEFAULT_REGION: "us-east-1",
      };
      for (let run = 0; run < RUNS; run++) {
        settleDisk();
        const t = performance.now();
        await promisify(execFile)(
          AWS,
          [
            "--endpoint-url",
            server.endpoint,
            "s3",
            "cp",
            "--recursive",
            "--only-show-errors",
            path.join(work, "upload"),
            `s3://${server.bucket}/aws-${run}/`,
          ],
          { env },
        );
        cli.push(performance.now() - t);
        await rm(path.join(server.dataDir, server.bucket, `aws-${run}`), {
          recursive: true,
          force: true,
        });
        oursS3.push((await saveOnce(s3, `s3-${run}`, 1, buffers)).persistMs);
        await rm(path.join(server.dataDir, server.bucket, "bench"), {
          recursive: true,
          force: true,
        });
      }
      const ours = mibps(TOTAL, median(oursS3));
      const peer = mibps(TOTAL, median(cli));
      record(
        "persist to S3 (s3rver) vs aws s3 cp",
        `${ours.toFixed(0)} MiB/s`,
        `${peer.toFixed(0)} MiB/s`,
        ours / peer,
        "≥ 1.0",
        ours / peer >= 1.0,
      );
    } finally {
      await s3.close();
      await server.dispose();
    }
  } finally {
    await rm(work, { recursive: true, force: true });
  }
  console.log("\nfigure | ours | peer | ratio | target | result");
  for (const r of results) {
    console.log(
      `${r.name} | ${r.ours} | ${r.peer} | ${r.ratio.toFixed(2)} | ${r.target} | ${r.pass ? "PASS" : "FAIL"}`,
    );
  }
}

await main();
