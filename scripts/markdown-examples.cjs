// markdown-examples.cjs: run the fenced examples of a README as tests.
//
// Every fenced example in a README is a promise that it runs as written; a test keeps it. Usage
// from a jest test (CommonJS, so jest can `require` it; path from a package's test folder):
//
//   const { fencedBlocks, runTypeScriptBlock } = require("../../../scripts/markdown-examples.cjs");
//   const blocks = fencedBlocks(path.join(PACKAGE_DIR, "README.md"), { lang: "ts" });
//   for (const block of blocks) {
//     const result = await runTypeScriptBlock(block.code, { cwd: PACKAGE_DIR, timeoutMs: 60_000 });
//     expect(result).toMatchObject({ code: 0 });   // print result.stderr on failure
//   }
//
// - fencedBlocks(markdownFile, { lang }) -> [{ lang, info, code, line, runnable, reason }]
//   Every ``` or ~~~ fenced block, in file order. `lang` is the info string's first word,
//   normalised (`typescript` -> `ts`, `sh`/`shell`/`console` -> `bash`, `javascript` -> `js`);
//   the `lang` option (a string or an array) keeps only those. `line` is the 1-based line of
//   the opening fence. A block that is deliberately not runnable must say so where a reader sees
//   it: its first line is a comment `// not runnable: <why>` (or `# not runnable: <why>`); it then
//   has `runnable: false` and `reason: "<why>"`. Tests must check such blocks by their reason,
//   never skip them silently.
// - runTypeScriptBlock(code, { cwd, env, timeoutMs }) -> Promise<{ code, signal, stdout, stderr, timedOut }>
//   Writes the block to a temporary `.ts` file inside `cwd` (a package folder, so workspace
//   imports such as `@strata/storage`, and the package's own name, resolve through the
//   `@strata/source` export condition to the TypeScript sources) and runs it as an ES module
//   with `node --conditions=@strata/source --import tsx <file>`. `env` is merged over
//   `process.env`. After `timeoutMs` (default 60,000) the process is killed (SIGKILL) and the
//   result has `timedOut: true`. The file is removed afterwards.
// - runBashBlock(code, { cwd, env, timeoutMs }) -> the same, running the block with
//   `bash -euo pipefail -c <code>`, so the first failing command fails the block.
// - startBashBlock(code, { cwd, env, timeoutMs }) -> a block that starts a server and runs until
//   stopped (`pnpm start`, `pnpm demo`): { output(), waitFor(pattern, ms), interrupt(), exited }.
//   It runs in its own process group; `interrupt()` sends SIGINT to the whole group, as Ctrl-C in
//   a terminal does, and resolves with the result once every process of the group is gone
//   (SIGKILL after `timeoutMs`, default 60,000, counted from the interrupt). `waitFor` resolves
//   with the first match in stdout+stderr, or rejects after `ms` naming what it waited for.
"use strict";

const { spawn } = require("node:child_process");
const { randomBytes } = require("node:crypto");
const { readFileSync } = require("node:fs");
const { unlink, writeFile } = require("node:fs/promises");
const path = require("node:path");

const LANG_ALIASES = {
  typescript: "ts",
  sh: "bash",
  shell: "bash",
  console: "bash",
  javascript: "js",
};

const NOT_RUNNABLE = /^\s*(?:\/\/|#)\s*not runnable:\s*(.+?)\s*$/i;

/**
 * The fenced code blocks of a Markdown file.
 * @param {string} markdownFile path of the Markdown file
 * @param {{ lang?: string | string[] }} [options] keep only these (normalised) languages
 * @returns {{ lang: string, info: string, code: string, line: number, runnable: boolean, reason: string | undefined }[]}
 */
function fencedBlocks(markdownFile, options = {}) {
  const wanted =
    options.lang === undefined
      ? undefined
      : new Set((Array.isArray(options.lang) ? options.lang : [options.lang]).map(normaliseLang));
  const lines = readFileSync(markdownFile, "utf8").split(/\r?\n/);
  const blocks = [];
  for (let i = 0; i < lines.length; i++) {
    const open = /^( {0,3})(`{3,}|~{3,})\s*([^`]*)$/.exec(lines[i]);
    if (open === null) continue;
    const indent = open[1].length;
    const fence = open[2];
    const info = open[3].trim();
    const body = [];
    let j = i + 1;
    for (; j < lines.length; j++) {
      const close = /^ {0,3}(`{3,}|~{3,})\s*$/.exec(lines[j]);
      if (close !== null && close[1][0] === fence[0] && close[1].length >= fence.length) break;
      // Content lines lose up to the opening fence's indentation (CommonMark).
      body.push(lines[j].replace(new RegExp(`^ {0,${indent}}`), ""));
    }
    const lang = normaliseLang(info.split(/\s+/)[0] ?? "");
    const code = body.length === 0 ? "" : `${body.join("\n")}\n`;
    const marker = NOT_RUNNABLE.exec(body.find((l) => l.trim() !== "") ?? "");
    if (wanted === undefined || wanted.has(lang)) {
      blocks.push({
        lang,
        info,
        code,
        line: i + 1,
        runnable: marker === null,
        reason: marker === null ? undefined : marker[1],
      });
    }
    i = j; // continue after the closing fence (or at the end of an unclosed block)
  }
  return blocks;
}

function normaliseLang(lang) {
  const lower = String(lang).toLowerCase();
  return LANG_ALIASES[lower] ?? lower;
}

/**
 * Runs a TypeScript block as an ES module inside `cwd` (see the header).
 * @param {string} code
 * @param {{ cwd: string, env?: Record<string, string>, timeoutMs?: number }} options
 * @returns {Promise<{ code: number | null, signal: string | null, stdout: string, stderr: string, timedOut: boolean }>}
 */
async function runTypeScriptBlock(code, options) {
  const cwd = requireCwd(options);
  const file = path.join(
    cwd,
    `.markdown-example-${process.pid}-${randomBytes(4).toString("hex")}.ts`,
  );
  await writeFile(file, code);
  try {
    return await run(
      process.execPath,
      ["--conditions=@strata/source", "--import", "tsx", file],
      cwd,
      options,
    );
  } finally {
    await unlink(file).catch(() => undefined);
  }
}

/**
 * Runs a shell block with `bash -euo pipefail -c` inside `cwd` (see the header).
 * @param {string} code
 * @param {{ cwd: string, env?: Record<string, string>, timeoutMs?: number }} options
 */
function runBashBlock(code, options) {
  const cwd = requireCwd(options);
  return run("bash", ["-euo", "pipefail", "-c", code], cwd, options);
}

/**
 * Starts a long-running shell block in its own process group (see the header).
 * @param {string} code
 * @param {{ cwd: string, env?: Record<string, string>, timeoutMs?: number }} options
 */
function startBashBlock(code, options) {
  const cwd = requireCwd(options);
  const child = spawn("bash", ["-euo", "pipefail", "-c", code], {
    cwd,
    env: { ...process.env, ...(options.env ?? {}) },
    stdio: ["ignore", "pipe", "pipe"],
    detached: true,
  });
  let stdout = "";
  let stderr = "";
  const waiters = [];
  const check = () => {
    for (const waiter of [...waiters]) {
      const match = (stdout + stderr).match(waiter.pattern);
      if (match !== null) {
        waiters.splice(waiters.indexOf(waiter), 1);
        clearTimeout(waiter.timer);
        waiter.resolve(match);
      }
    }
  };
  child.stdout.setEncoding("utf8").on("data", (chunk) => {
    stdout += chunk;
    check();
  });
  child.stderr.setEncoding("utf8").on("data", (chunk) => {
    stderr += chunk;
    check();
  });
  const signalGroup = (signal) => {
    try {
      process.kill(-child.pid, signal);
    } catch {
      // the group is gone
    }
  };
  const groupAlive = () => {
    try {
      process.kill(-child.pid, 0);
      return true;
    } catch {
      return false;
    }
  };
  const exited = new Promise((resolve) => {
    child.once("close", (exitCode, signal) => {
      for (const waiter of waiters.splice(0)) {
        clearTimeout(waiter.timer);
        waiter.reject(
          new Error(
            `the block exited (${exitCode ?? signal}) before ${waiter.pattern}:\n${stdout}\n${stderr}`,
          ),
        );
      }
      resolve({ code: exitCode, signal, stdout, stderr, timedOut: false });
    });
  });
  let stopping;
  return {
    pid: child.pid,
    output: () => stdout + stderr,
    waitFor(pattern, ms = 60_000) {
      const match = (stdout + stderr).match(pattern);
      if (match !== null) return Promise.resolve(match);
      return new Promise((resolve, reject) => {
        const waiter = { pattern, resolve, reject, timer: undefined };
        waiter.timer = setTimeout(() => {
          waiters.splice(waiters.indexOf(waiter), 1);
          reject(new Error(`no ${pattern} within ${ms} ms:\n${stdout}\n${stderr}`));
        }, ms);
        waiters.push(waiter);
      });
    },
    interrupt() {
      if (stopping !== undefined) return stopping;
      stopping = (async () => {
        signalGroup("SIGINT");
        const deadline = Date.now() + (options.timeoutMs ?? 60_000);
        let timedOut = false;
        const result = await Promise.race([
          exited,
          new Promise((r) => setTimeout(r, options.timeoutMs ?? 60_000).unref()),
        ]);
        // Wait for the rest of the group (a child the shell started may outlive it briefly).
        while (groupAlive() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
        if (result === undefined || groupAlive()) {
          timedOut = true;
          signalGroup("SIGKILL");
        }
        const final = await exited;
        return { ...final, timedOut };
      })();
      return stopping;
    },
    exited,
  };
}

function requireCwd(options) {
  if (options === undefined || typeof options.cwd !== "string" || options.cwd === "") {
    throw new TypeError("markdown-examples: options.cwd (the package folder) is required");
  }
  return path.resolve(options.cwd);
}

function run(command, args, cwd, options) {
  const timeoutMs = options.timeoutMs ?? 60_000;
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      cwd,
      env: { ...process.env, ...(options.env ?? {}) },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    let timedOut = false;
    child.stdout.setEncoding("utf8").on("data", (chunk) => {
      stdout += chunk;
    });
    child.stderr.setEncoding("utf8").on("data", (chunk) => {
      stderr += chunk;
    });
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill("SIGKILL");
    }, timeoutMs);
    child.once("error", (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.once("close", (exitCode, signal) => {
      clearTimeout(timer);
      resolve({ code: exitCode, signal, stdout, stderr, timedOut });
    });
  });
}

module.exports = { fencedBlocks, runTypeScriptBlock, runBashBlock, startBashBlock };
