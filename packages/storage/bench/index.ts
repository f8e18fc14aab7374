// Storage benchmark: each figure is a ratio against a peer measured in the same run. MB/s are
// medians over rounds; the ratio is the median of per-round ratios (ours and the peer run back to
// back in each round, alternating who goes first).
//   local put (1 MiB, 64 MiB, 512 MiB) vs plain fs open + write + fsync + close   target >= 0.9x
//   S3 upload / download of 256 MiB vs `/usr/bin/aws s3 cp` to the same s3rver      target >= 1.0x
// Run: pnpm --filter @strata/storage bench   (env BENCH_QUICK=1 for a shorter run)
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { createReadStream, createWriteStream, existsSync } from "node:fs";
import { mkdtemp, open, readFile, rm, unlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { pipeline } from "node:stream/promises";
import { createLocalStorage } from "../src/index.js";
import { createS3Storage } from "../src/s3/index.js";
import { S3RVER_CREDENTIALS, startS3rver } from "../src/testing/index.js";
import { aws, requireAwsCli } from "../test/aws-cli.js";

const MiB = 1024 * 1024;
const quick = process.env.BENCH_QUICK === "1";

interface Row {
  name: string;
  oursMBs: number;
  peerMBs: number;
  /** Median over rounds of (peer time / our time) for the two runs of one round. */
  ratio: number;
  target: number;
  note?: string;
}
const rows: Row[] = [];

const mbps = (bytes: number, ms: number) => bytes / 1e6 / (ms / 1000);

async function time(fn: () => Promise<unknown>): Promise<number> {
  const start = performance.now();
  await fn();
  return performance.now() - start;
}

/** Runs ours and the peer alternately `rounds` times; returns the median ms of each. */
async function compare(
  rounds: number,
  ours: () => Promise<unknown>,
  peer: () => Promise<unknown>,
  between: () => Promise<void> = async () => undefined,
): Promise<[number, number, number]> {
  const a: number[] = [];
  const b: number[] = [];
  for (let i = 0; i < rounds; i++) {
    // Alternate who goes first, so page-cache and writeback effects fall on both sides.
    if (i % 2 === 0) {
      a.push(await time(ours));
      b.push(await time(peer));
    } else {
      b.push(await time(peer));
      a.push(await time(ours));
    }
    await between();
  }
  if (process.env.BENCH_VERBOSE === "1") {
    console.log(`  ours ms: ${a.map((x) => x.toFixed(0)).join(" ")}`);
    console.log(`  peer ms: ${b.map((x) => x.toFixed(0)).join(" ")}`);
  }
  // Each round's two runs are adjacent in time, so their ratio is robust to the machine's
  // load drifting during the run (other jobs share this box); report the median of those.
  const ratios = a.map((ours, i) => (b[i] as number) / ours);
  return [median(a), median(b), median(ratios)];
}

function median(values: number[]): number {
  const sorted = [...values].sort((x, y) => x - y);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1
    ? (sorted[mid] as number)
    : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

async function plainWrite(file: string, bytes: Uint8Array): Promise<void> {
  const handle = await open(file, "w", 0o644);
  try {
    // Same 16 MiB write size as LocalStorage: one 512 MiB write(2) is markedly slower here
    // (dirty-page throttling), and the comparison is about the atomic-put overhead.
    let offset = 0;
    while (offset < bytes.length) {
      const length = Math.min(16 * MiB, bytes.length - offset);
      offset += (await handle.write(bytes, offset, length)).bytesWritten;
    }
    await handle.sync();
  } finally {
    await handle.close();
  }
}

async function benchLocal(dir: string): Promise<void> {
  const storage = createLocalStorage({ root: path.join(dir, "ours") });
  const peerDir = path.join(dir, "peer");
  await rm(peerDir, { recursive: true, force: true });
  await import("node:fs/promises").then((fs) => fs.mkdir(peerDir, { recursive: true }));
  const sizes: Array<[string, number, number]> = quick
    ? [
        ["1 MiB", MiB, 20],
        ["64 MiB", 64 * MiB, 4],
        ["512 MiB", 512 * MiB, 2],
      ]
    : [
        ["1 MiB", MiB, 100],
        ["64 MiB", 64 * MiB, 16],
        ["512 MiB", 512 * MiB, 6],
      ];
  for (const [label, size, rounds] of sizes) {
    const bytes = randomBytes(size);
    // Every round writes new names and removes the previous round's files untimed (then flushes
    // the journal), so neither side pays for freeing the old blocks (this disk is mounted with
    // `discard`, which makes freeing cost as much as writing) and both measure put vs write+fsync.
    let round = 0;
    const [ours, peer, ratio] = await compare(
      rounds,
      async () => {
        await storage.put(`bench/obj-${round}`, bytes);
      },
      async () => {
        await plainWrite(path.join(peerDir, `obj-${round}`), bytes);
      },
      async () => {
        await storage.delete(`bench/obj-${round}`);
        await unlink(path.join(peerDir, `obj-${round}`));
        round++;
        await syncFs(dir);
      },
    );
    rows.push({
      name: `local put ${label}`,
      oursMBs: mbps(size, ours),
      peerMBs: mbps(size, peer),
      ratio,
      target: 0.9,
    });
  }
  await rm(path.join(dir, "ours"), { recursive: true, force: true });
  await rm(peerDir, { recursive: true, force: true });
}

/**
 * Flushes the file system (untimed housekeeping between rounds): fsync of the folder, then
 * sync(1), which also waits for the discards of freed blocks (this disk is mounted `discard`),
 * so whoever runs first in the next round does not pay for them.
 */
async function syncFs(dir: string): Promise<void> {
  const handle = await open(dir, "r");
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
  await new Promise<void>((resolve) => execFile("sync", () => resolve()));
}

/** The CLI's process startup (python + botocore), which is part of every `aws s3 cp`. */
function startupNote(startupMs: number): string {
  return `aws process startup alone ~${startupMs.toFixed(0)} ms`;
}

async function benchS3(dir: string): Promise<void> {
  // Tuned for s3rver on this 2-core box: 4 parallel 8 MiB parts/ranges (the library default is 8).
  const partMiB = Number(process.env.BENCH_PART_MIB ?? 8);
  const queueSize = Number(process.env.BENCH_QUEUE ?? 4);
  requireAwsCli();
  const server = await startS3rver({ bucket: "bench" });
  try {
    const size = 256 * MiB;
    const source = path.join(dir, "source.bin");
    await writeFile(source, randomBytes(size));
    const storage = createS3Storage({
      bucket: server.bucket,
      endpoint: server.endpoint,
      credentials: S3RVER_CREDENTIALS,
      partSizeBytes: partMiB * MiB,
      queueSize,
    });
    console.log(
      `S3: part size ${partMiB} MiB, queueSize ${queueSize} (BENCH_PART_MIB, BENCH_QUEUE)`,
    );
    const rounds = quick ? 2 : 6; // even, so each side runs first equally often
    // Startup of the CLI alone (python + botocore import), to show how much of its time it is.
    const startups: number[] = [];
    for (let i = 0; i < 3; i++) {
      startups.push(
        await time(() => aws(server.endpoint, ["s3api", "head-bucket", "--bucket", server.bucket])),
      );
    }
    const startupMs = median(startups);

    const [up, upPeer, upRatio] = await compare(
      rounds,
      async () => {
        await storage.put("ours/obj.bin", createReadStream(source, { highWaterMark: MiB }), {
          sizeHint: size,
        });
      },
      () => aws(server.endpoint, ["s3", "cp", source, `s3://${server.bucket}/peer/obj.bin`]),
    );
    rows.push({
      name: "S3 upload 256 MiB (file -> s3rver)",
      oursMBs: mbps(size, up),
      peerMBs: mbps(size, upPeer),
      ratio: upRatio,
      target: 1.0,
      note: startupNote(startupMs),
    });

    const oursOut = path.join(dir, "ours.out");
    const peerOut = path.join(dir, "peer.out");
    const [down, downPeer, downRatio] = await compare(
      rounds,
      async () => {
        await pipeline(await storage.getStream("ours/obj.bin"), createWriteStream(oursOut));
      },
      () => aws(server.endpoint, ["s3", "cp", `s3://${server.bucket}/peer/obj.bin`, peerOut]),
      async () => {
        // Untimed: drop both copies and flush, so one side's writeback does not slow the other.
        await unlink(oursOut).catch(() => undefined);
        await unlink(peerOut).catch(() => undefined);
        await syncFs(dir);
      },
    );
    rows.push({
      name: "S3 download 256 MiB (s3rver -> file)",
      oursMBs: mbps(size, down),
      peerMBs: mbps(size, downPeer),
      ratio: downRatio,
      target: 1.0,
      note: startupNote(startupMs),
    });
    await pipeline(await storage.getStream("ours/obj.bin"), createWriteStream(oursOut));
    const [got, want] = await Promise.all([readFile(oursOut), readFile(source)]);
    if (!got.equals(want)) throw new Error("S3 download is not byte-exact");
    await storage.close();
    await unlink(oursOut).catch(() => undefined);
    await unlink(peerOut).catch(() => undefined);
  } finally {
    await server.dispose();
  }
}

async function main(): Promise<void> {
  const dir = await mkdtemp(path.join(tmpdir(), "strata-storage-bench-"));
  try {
    console.log(
      `storage bench (${quick ? "quick" : "full"}), temp dir ${dir}, node ${process.version}`,
    );
    if (process.env.BENCH_ONLY !== "s3") await benchLocal(dir);
    if (process.env.BENCH_ONLY !== "local") {
      // The client-side files of the S3 runs (upload source, download targets) live in RAM when
      // /dev/shm exists, so disk writeback of one run does not slow the next; s3rver's own data
      // stays on disk, the same for both clients.
      const shm = existsSync("/dev/shm") ? await mkdtemp("/dev/shm/strata-storage-bench-") : dir;
      try {
        await benchS3(shm);
      } finally {
        if (shm !== dir) await rm(shm, { recursive: true, force: true });
      }
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  console.log("");
  console.log(
    `${"benchmark".padEnd(40)} ${"ours MB/s".padStart(10)} ${"peer MB/s".padStart(10)} ${"ratio".padStart(7)}  target  result`,
  );
  let failed = 0;
  for (const row of rows) {
    const ratio = row.ratio;
    const pass = ratio >= row.target;
    if (!pass) failed++;
    console.log(
      `${row.name.padEnd(40)} ${row.oursMBs.toFixed(1).padStart(10)} ${row.peerMBs.toFixed(1).padStart(10)} ${ratio.toFixed(2).padStart(6)}x  >=${row.target.toFixed(1)}x  ${pass ? "PASS" : "FAIL"}${row.note ? `  (${row.note})` : ""}`,
    );
  }
  console.log(`\n${rows.length - failed} passed, ${failed} failed`);
}

await main();
