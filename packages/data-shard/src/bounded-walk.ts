/**
 * Bounded-load placement on a {@link PreferenceRing}: consistent hashing with bounded loads
 * (Mirrokni, Thorup & Zadimoghaddam, SODA 2018), items placed in a canonical order so the result
 * is a pure function of its inputs. @private
 */
import { firstPointAtOrAfter, type PreferenceRing } from "./preference-ring.js";

/**
 * Places `items` (ids indexing `itemPos`/`itemOwner`) in ascending id order: each goes to the
 * owner of the first ring point at or after its position whose worker is below its cap. Full
 * workers' points are skipped with a union-find "next point with room" array, so a placement
 * costs a binary search plus amortised O(α) pointer hops; a worker filling up costs O(its points).
 * Updates `load` and `itemOwner`.
 *
 * @param items ascending ids (the order is part of the definition of the result).
 * @returns the items left when every worker reached its cap (empty if capacity sufficed).
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
  for (let w = 0; w < workerCount; w++) if ((load[w] as number) >= (caps[w] as number)) markFull(w);
  const n = items.length;
  for (let i = 0; i < n; i++) {
    if (full === workerCount) return items.slice(i);
    const item = items[i] as number;
    const pos = itemPos[item] as number;
    // Follow `next` from the first point at or after the item to a point with room (path halving).
    let p = firstPointAtOrAfter(ring, pos);
    while (next[p] !== p) {
      const q = next[p] as number;
      next[p] = next[q] as number;
      p = q;
    }
    const w = owners[p] as number;
    itemOwner[item] = w;
    load[w] = (load[w] as number) + 1;
    if ((load[w] as number) >= (caps[w] as number)) markFull(w);
  }
  return new Int32Array(0);
}
