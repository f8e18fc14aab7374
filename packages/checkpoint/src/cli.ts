#!/usr/bin/env node
import { runCli } from "./cli-program.js";

// The thin executable: everything testable lives in cli-program.ts.
runCli(process.argv.slice(2), { stdout: process.stdout, stderr: process.stderr }).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`strata-checkpoint: ${String(error)}\n`);
    process.exitCode = 4;
  },
);
