export { formatAgo, formatBytes, formatDurationMs } from "./format.js";
export { WORKER_STATE_STYLE } from "./worker-state-style.js";
