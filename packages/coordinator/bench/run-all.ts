// `pnpm bench` for the coordinator: bench/index.ts (gRPC: heartbeats, registration, barriers,
// sustained workers), then bench/http-api.ts (HTTP: dashboard latency, event delivery), each in
// its own process. Section names given after `--` go to both (`pnpm bench -- barrier http`);
// each runs only the sections it knows. Exits non-zero when either does.
import { spawnSync } from "node:child_process";
import { join, resolve } from "node:path";

const HERE = resolve(process.argv[1] ?? ".", "..");
const args = process.argv.slice(2);
let failed = false;
for (const file of ["index.ts", "http-api.ts"]) {
  const run = spawnSync(
    process.execPath,
    ["--conditions=@strata/source", "--import", "tsx", join(HERE, file), ...args],
    { stdio: "inherit" },
  );
  if (run.status !== 0) failed = true;
}
process.exit(failed ? 1 : 0);
