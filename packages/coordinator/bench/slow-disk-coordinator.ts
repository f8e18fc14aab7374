// A coordinator process for the benchmark whose SQLite commits each sleep first, as on a slow
// disk (`simulatedCommitLatencyMs`, a library option the CLI does not expose). Prints the same
// `listening` line as dist/bin.js and stops on SIGTERM.
//   node --conditions=@strata/source --import tsx bench/slow-disk-coordinator.ts <dataDir> <commitMs>
import { startCoordinator } from "../src/index.js";

const [dataDir, commitMs] = process.argv.slice(2);
if (dataDir === undefined || commitMs === undefined) {
  throw new Error("usage: slow-disk-coordinator.ts <dataDir> <commitMs>");
}
const running = await startCoordinator(
  {
    grpcAddr: "127.0.0.1:0",
    httpAddr: "127.0.0.1:0",
    dataDir,
    rateLimitRps: 0,
    maxWorkers: 100_000,
    heartbeatTimeoutMs: 60_000,
  },
  { simulatedCommitLatencyMs: Number(commitMs) },
);
process.stdout.write(
  `${JSON.stringify({ msg: "listening", grpc: running.grpcAddress, http: running.httpAddress })}\n`,
);
process.once("SIGTERM", () => {
  running.close().then(() => process.exit(0));
});
