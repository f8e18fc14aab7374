/** Twelve colours that stay distinguishable in light and dark themes. */
export const WORKER_PALETTE = [
  "#0d9488",
  "#4f46e5",
  "#d97706",
  "#db2777",
  "#0284c7",
  "#65a30d",
  "#9333ea",
  "#ea580c",
  "#0891b2",
  "#be123c",
  "#15803d",
  "#7c3aed",
] as const;

/**
 * A stable colour for a worker id (FNV-1a of the id into {@link WORKER_PALETTE}), so a worker
 * keeps its colour across refreshes and rebalances. Beyond twelve workers colours repeat; the
 * legend and tooltips name the owner.
 */
export function workerColor(id: string): string {
  let hash = 0x811c9dc5;
  for (let i = 0; i < id.length; i++) {
    hash ^= id.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return WORKER_PALETTE[(hash >>> 0) % WORKER_PALETTE.length] as string;
}
