import { compareIds } from "./assign-shards.js";
import { MAX_TOTAL_SHARDS } from "./dataset-geometry.js";
import { hashPosition } from "./hash64.js";
import {
  invalidArgument,
  requireId,
  requireInteger,
  requireNumber,
  requireSeed,
} from "./validate.js";

/** Default virtual nodes per node of weight 1. */
export const DEFAULT_VIRTUAL_NODES = 160;

/** Most virtual nodes one node may have (`virtualNodes × weight`, rounded). */
export const MAX_VIRTUAL_NODES_PER_NODE = 100_000;

const BUCKETS = 65_536;
const BUCKET_WIDTH = 2 ** 36;

/** Options of {@link createHashRing}. */
export interface HashRingOptions {
  /** Virtual nodes (ring points) per node of weight 1, 1…10,000; default 160. */
  readonly virtualNodes?: number;
  /** Seed of the ring's hash (XXH3-64); default 0. Rings with different seeds place nodes differently. */
  readonly seed?: bigint;
}

/** Serialisable form of a ring (`toState`, `hashRingFromState`). */
export interface HashRingState {
  readonly virtualNodes: number;
  /** The seed as a decimal string (JSON has no bigint). */
  readonly seed: string;
  /** Nodes sorted by id. */
  readonly nodes: readonly { readonly id: string; readonly weight: number }[];
}

/**
 * A consistent hash ring: each node owns `round(virtualNodes × weight)` points placed by XXH3-64
 * of `"<id>#<i>"`; a key belongs to the first point at or after its own hash (wrapping around).
 * Adding or removing a node only moves the keys of the arcs it gains or loses. The answer for a
 * key depends only on the set of nodes and weights, never on the order they were added in.
 * Not safe for concurrent mutation from several async tasks (it is a plain object).
 */
export interface HashRing {
  /**
   * Adds a node, or changes its weight if present. Returns true if the ring changed.
   * @param weight relative weight in (0, 1,000,000]; default 1.
   */
  addNode(id: string, weight?: number): boolean;
  /** Removes a node; returns false if it was absent (not an error). */
  removeNode(id: string): boolean;
  /** The node owning `key`, or undefined when the ring is empty. */
  getNode(key: string): string | undefined;
  /** Same as {@link HashRing.getNode}. */
  nodeFor(key: string): string | undefined;
  /** The node owning shard `shardId` of a dataset: `getNode("<datasetId>:<shardId>")`. */
  nodeForShard(datasetId: string, shardId: number): string | undefined;
  /**
   * Up to `count` distinct nodes in ring order from `key`'s position: the owner first, then the
   * nodes that would take over if it left, and so on.
   */
  preferenceList(key: string, count: number): string[];
  /** Shard ids in [0, totalShards) owned by `node`, ascending (O(totalShards · log points)). */
  shardsForNode(node: string, datasetId: string, totalShards: number): number[];
  /** Number of nodes. */
  nodeCount(): number;
  /** Node ids, sorted. */
  nodes(): string[];
  /** Whether `id` is a node. */
  hasNode(id: string): boolean;
  /** The weight of `id`, or undefined. */
  weightOf(id: string): number | undefined;
  /** Removes every node. */
  clear(): void;
  /** A serialisable snapshot. */
  toState(): HashRingState;
}

/**
 * Creates an empty ring.
 * @throws RuntimeError(InvalidArgument) for a bad `virtualNodes` or `seed`.
 */
export function createHashRing(options: HashRingOptions = {}): HashRing {
  const virtualNodes = requireInteger(
    "virtualNodes",
    options.virtualNodes ?? DEFAULT_VIRTUAL_NODES,
    1,
    10_000,
  );
  const seed = requireSeed("seed", options.seed ?? 0n);
  const weights = new Map<string, number>();
  const pointsByNode = new Map<string, Float64Array>();
  let positions = new Float64Array(0);
  let owners: string[] = [];
  // buckets[b] = first point whose position's top 16 bits are ≥ b: narrows each binary search
  // to a handful of points (positions are 52-bit, so b = floor(position / 2^36)).
  let buckets = new Int32Array(BUCKETS + 1);
  let dirty = false;

  function pointsFor(id: string, weight: number): Float64Array {
    const count = Math.round(virtualNodes * weight);
    if (count > MAX_VIRTUAL_NODES_PER_NODE) {
      invalidArgument(
        "weight",
        `gives ${count} virtual nodes, more than ${MAX_VIRTUAL_NODES_PER_NODE}`,
        weight,
      );
    }
    const out = new Float64Array(Math.max(1, count));
    for (let i = 0; i < out.length; i++) out[i] = hashPosition(`${id}#${i}`, seed);
    return out;
  }

  function rebuild(): void {
    const total = [...pointsByNode.values()].reduce((n, p) => n + p.length, 0);
    const entries: { pos: number; id: string }[] = new Array(total);
    let k = 0;
    for (const [id, points] of pointsByNode) for (const pos of points) entries[k++] = { pos, id };
    // Equal positions (astronomically rare) are ordered by id, so insertion order never matters.
    entries.sort((a, b) => a.pos - b.pos || compareIds(a.id, b.id));
    positions = new Float64Array(total);
    owners = new Array(total);
    for (let i = 0; i < total; i++) {
      const e = entries[i] as { pos: number; id: string };
      positions[i] = e.pos;
      owners[i] = e.id;
    }
    buckets = new Int32Array(BUCKETS + 1);
    let point = 0;
    for (let b = 0; b < BUCKETS; b++) {
      while (point < total && (positions[point] as number) < b * BUCKET_WIDTH) point++;
      buckets[b] = point;
    }
    buckets[BUCKETS] = total;
    dirty = false;
  }

  function indexFor(key: string): number {
    if (dirty) rebuild();
    const h = hashPosition(key, seed);
    const b = Math.floor(h / BUCKET_WIDTH);
    let lo = buckets[b] as number;
    let hi = buckets[b + 1] as number;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((positions[mid] as number) < h) lo = mid + 1;
      else hi = mid;
    }
    return lo === positions.length ? 0 : lo;
  }

  function getNode(key: string): string | undefined {
    if (typeof key !== "string") invalidArgument("key", "must be a string", key);
    if (weights.size === 0) return undefined;
    const index = indexFor(key); // may rebuild `owners`, so index first
    return owners[index];
  }

  const ring: HashRing = {
    addNode(id, weight = 1) {
      requireId("id", id);
      requireNumber("weight", weight, 0, 1_000_000);
      if (weight === 0) invalidArgument("weight", "must be greater than 0");
      if (weights.get(id) === weight) return false;
      pointsByNode.set(id, pointsFor(id, weight));
      weights.set(id, weight);
      dirty = true;
      return true;
    },
    removeNode(id) {
      if (!weights.delete(id)) return false;
      pointsByNode.delete(id);
      dirty = true;
      return true;
    },
    getNode,
    nodeFor: getNode,
    nodeForShard(datasetId, shardId) {
      requireId("datasetId", datasetId);
      requireInteger("shardId", shardId, 0, Number.MAX_SAFE_INTEGER);
      return getNode(`${datasetId}:${shardId}`);
    },
    preferenceList(key, count) {
      if (typeof key !== "string") invalidArgument("key", "must be a string", key);
      requireInteger("count", count, 0, Number.MAX_SAFE_INTEGER);
      const out: string[] = [];
      if (weights.size === 0 || count === 0) return out;
      const want = Math.min(count, weights.size);
      const seen = new Set<string>();
      const start = indexFor(key);
      for (let i = 0; i < positions.length && out.length < want; i++) {
        const id = owners[(start + i) % positions.length] as string;
        if (!seen.has(id)) {
          seen.add(id);
          out.push(id);
        }
      }
      return out;
    },
    shardsForNode(node, datasetId, totalShards) {
      requireId("datasetId", datasetId);
      requireInteger("totalShards", totalShards, 0, MAX_TOTAL_SHARDS);
      const out: number[] = [];
      if (!weights.has(node)) return out;
      for (let s = 0; s < totalShards; s++) if (getNode(`${datasetId}:${s}`) === node) out.push(s);
      return out;
    },
    nodeCount: () => weights.size,
    nodes: () => [...weights.keys()].sort(compareIds),
    hasNode: (id) => weights.has(id),
    weightOf: (id) => weights.get(id),
    clear() {
      weights.clear();
      pointsByNode.clear();
      dirty = true;
    },
    toState() {
      return {
        virtualNodes,
        seed: seed.toString(),
        nodes: [...weights.keys()]
          .sort(compareIds)
          .map((id) => ({ id, weight: weights.get(id) ?? 1 })),
      };
    },
  };
  return ring;
}

/**
 * Rebuilds a ring from {@link HashRing.toState} output (validated).
 * @throws RuntimeError(InvalidArgument) naming the bad field.
 */
export function hashRingFromState(state: HashRingState): HashRing {
  if (state === null || typeof state !== "object")
    return invalidArgument("state", "must be an object");
  if (typeof state.seed !== "string" || !/^[0-9]{1,20}$/.test(state.seed)) {
    return invalidArgument("state.seed", "must be a decimal string", state.seed);
  }
  const ring = createHashRing({ virtualNodes: state.virtualNodes, seed: BigInt(state.seed) });
  if (!Array.isArray(state.nodes)) return invalidArgument("state.nodes", "must be an array");
  state.nodes.forEach((node, i) => {
    if (node === null || typeof node !== "object")
      invalidArgument(`state.nodes[${i}]`, "must be {id, weight}");
    if (ring.hasNode(node.id)) invalidArgument(`state.nodes[${i}].id`, "is a duplicate", node.id);
    ring.addNode(node.id, node.weight);
  });
  return ring;
}
