/**
 * Bounded-load placement on a {@link PreferenceRing}: consistent hashing with bounded loads
 * (Mirrokni, Thorup & Zadimoghaddam, SODA 2018), in a canonical order so the result is a pure
 * function of its inputs. @private
 */
import { firstPointAtOrAfter, type PreferenceRing } from "./preference-ring.js";

/** log2 of the distance covered by one bucket of the queue (2^33 / 2^17 = 65,536 buckets). */
const BUCKET_SHIFT = 17;
const BUCKET_COUNT = 65_536;

/**
 * Places `items` (ids indexing `itemPos`/`itemOwner`). All pending items walk clockwise together,
 * nearest first: an item standing on a point whose worker is below its cap is placed there;
 * otherwise it moves on to the next point of a worker with room. So items that sit close to a
 * worker's point get it before items that only reach it from afar, as in the stable matching
 * where items prefer nearer points and workers nearer items. The order is kept with a bucket
 * queue (distance / 2^17; within a bucket, last in first out), which is deterministic and O(1)
 * per step; full workers' points are skipped with a union-find "next point with room" array.
 * Updates `load` and `itemOwner`.
 *
 * @param items ascending ids (the order is part of the definition of the result).
 * @returns the items left, ascending, when every worker reached its cap (empty if capacity sufficed).
 */
export function boundedWalk(
  ring: PreferenceRing,
  itemPos: Uint32Array,
  items: Int32Array,
  caps: Int32Array,
  load: Int32Array,
  itemOwner: Int32Array,
): Int32Array {
  const { positions, owners, workerStart, pointsOf } = ring;
  const pointCount = positions.length;
  const workerCount = caps.length;
  // next[p]: a point at or after p (cyclically) that may belong to a worker with room.
  const next = new Int32Array(pointCount);
  for (let p = 0; p < pointCount; p++) next[p] = p;
  let full = 0;
  const markFull = (w: number): void => {
    full++;
    for (let i = workerStart[w] as number; i < (workerStart[w + 1] as number); i++) {
      const p = pointsOf[i] as number;
      next[p] = p + 1 === pointCount ? 0 : p + 1;
    }
  };
  const find = (start: number): number => {
    let p = start;
    while (next[p] !== p) {
      const q = next[p] as number;
      next[p] = next[q] as number;
      p = q;
    }
    return p;
  };
  for (let w = 0; w < workerCount; w++) if ((load[w] as number) >= (caps[w] as number)) markFull(w);
  const n = items.length;
  if (n === 0 || full === workerCount) return items.slice();

  // Bucket queue of slots (indexes into `items`), linked through `link`.
  const head = new Int32Array(BUCKET_COUNT).fill(-1);
  const link = new Int32Array(n);
  const point = new Int32Array(n);
  const dist = new Float64Array(n);
  const push = (slot: number): void => {
    const b = Math.min(BUCKET_COUNT - 1, Math.floor((dist[slot] as number) / 2 ** BUCKET_SHIFT));
    link[slot] = head[b] as number;
    head[b] = slot;
    if (b < cursor) cursor = b;
  };
  let cursor = 0;
  for (let i = n - 1; i >= 0; i--) {
    const pos = itemPos[items[i] as number] as number;
    const p = firstPointAtOrAfter(ring, pos);
    point[i] = p;
    dist[i] = ((positions[p] as number) - pos) >>> 0;
    push(i);
  }
  cursor = 0;
  let pending = n;
  while (pending > 0 && full < workerCount) {
    while ((head[cursor] as number) < 0) cursor++;
    const slot = head[cursor] as number;
    head[cursor] = link[slot] as number;
    const p = point[slot] as number;
    const w = owners[p] as number;
    if ((load[w] as number) < (caps[w] as number)) {
      itemOwner[items[slot] as number] = w;
      load[w] = (load[w] as number) + 1;
      if ((load[w] as number) >= (caps[w] as number)) markFull(w);
      pending--;
      continue;
    }
    // The worker is full: walk on to the next point of a worker with room.
    const q = find(p + 1 === pointCount ? 0 : p + 1);
    const pos = itemPos[items[slot] as number] as number;
    let d = ((positions[q] as number) - pos) >>> 0;
    while (d < (dist[slot] as number)) d += 4_294_967_296; // walked past the item's own position
    point[slot] = q;
    dist[slot] = d;
    push(slot);
  }
  if (pending === 0) return new Int32Array(0);
  const left: number[] = [];
  for (let b = 0; b < BUCKET_COUNT; b++) {
    for (let slot = head[b] as number; slot >= 0; slot = link[slot] as number)
      left.push(items[slot] as number);
  }
  return Int32Array.from(left).sort();
}
