#!/usr/bin/env node
// The `strata-coordinator` executable. See `strata-coordinator --help`.
import { runCli } from "./cli.js";

runCli().then(
  (code) => {
    process.exitCode = code;
    // The servers are closed; anything still pending (a stuck socket) must not keep us alive.
    setTimeout(() => process.exit(code), 1_000).unref();
  },
  (error: unknown) => {
    process.stderr.write(`strata-coordinator: ${String(error)}\n`);
    process.exit(1);
  },
);
