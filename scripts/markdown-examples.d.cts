// Types for markdown-examples.cjs (see its header). In a TypeScript test:
//   import type * as MarkdownExamples from "../../../scripts/markdown-examples.cjs";
//   const { fencedBlocks, runTypeScriptBlock } =
//     require("../../../scripts/markdown-examples.cjs") as typeof MarkdownExamples;

/** A fenced code block of a Markdown file. */
export interface FencedBlock {
  /** The info string's first word, normalised: `ts`, `bash`, `js`, `json`, ... ("" for none). */
  lang: string;
  /** The whole info string after the fence. */
  info: string;
  /** The block's text, ending with a newline (empty for an empty block). */
  code: string;
  /** 1-based line of the opening fence. */
  line: number;
  /** False when the block's first line is `// not runnable: <why>` or `# not runnable: <why>`. */
  runnable: boolean;
  /** The `<why>` of a block that is not runnable. */
  reason: string | undefined;
}

/** How a block ran. */
export interface BlockResult {
  /** Exit code, or null when a signal ended it. */
  code: number | null;
  signal: string | null;
  stdout: string;
  stderr: string;
  /** Whether it was killed at `timeoutMs`. */
  timedOut: boolean;
}

/** Options for running a block. */
export interface RunOptions {
  /** The package folder to run in (workspace imports resolve from there). */
  cwd: string;
  /** Variables added to `process.env`. */
  env?: Record<string, string>;
  /** Kill after this many ms. Default 60,000. */
  timeoutMs?: number;
}

export function fencedBlocks(
  markdownFile: string,
  options?: { lang?: string | string[] },
): FencedBlock[];

export function runTypeScriptBlock(code: string, options: RunOptions): Promise<BlockResult>;

export function runBashBlock(code: string, options: RunOptions): Promise<BlockResult>;

/** A long-running block started by {@link startBashBlock}. */
export interface StartedBlock {
  /** The shell's pid (also the process group id). */
  readonly pid: number | undefined;
  /** Everything written so far, stdout then stderr. */
  output(): string;
  /** The first match of `pattern` in the output; rejects after `ms` (default 60,000) or on exit. */
  waitFor(pattern: RegExp, ms?: number): Promise<RegExpMatchArray>;
  /** Ctrl-C: SIGINT to the whole group; resolves once the group is gone (SIGKILL after `timeoutMs`, then `timedOut: true`). Idempotent. */
  interrupt(): Promise<BlockResult>;
  /** Resolves when the shell exits by itself. */
  readonly exited: Promise<BlockResult>;
}

export function startBashBlock(code: string, options: RunOptions): StartedBlock;
