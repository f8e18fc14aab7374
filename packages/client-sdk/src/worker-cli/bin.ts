#!/usr/bin/env node
import { runWorkerCli } from "./worker-cli.js";

// `strata-worker --help` lists every option. The exit code is set rather than forced, so the
// JSON lines on stdout are flushed before the process ends.
process.exitCode = await runWorkerCli(process.argv.slice(2));
