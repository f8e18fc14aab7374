import type { DatasetDetailResponse } from "@strata/coordinator/api";
import { useEffect, useMemo, useRef, useState } from "react";
import { formatCount, formatPercent } from "../format.js";
import { useThemeContext } from "../theme/theme-context.js";
import { workerColor } from "./worker-color.js";

/** Samples in shard `index` of a dataset (the last shard may be shorter). */
export function shardSize(index: number, totalSamples: number, shardSize: number): number {
  return Math.max(0, Math.min(shardSize, totalSamples - index * shardSize));
}

/** Which shards of a page changed owner between two answers for the same epoch and page. */
export function movedShards(
  previous: DatasetDetailResponse | undefined,
  next: DatasetDetailResponse,
): Set<number> {
  const moved = new Set<number>();
  if (previous === undefined || previous.epoch !== next.epoch || previous.offset !== next.offset) {
    return moved;
  }
  if (previous.membership_version === next.membership_version) return moved;
  for (let i = 0; i < next.owner.length; i++) {
    const before = previous.owner[i];
    const after = next.owner[i];
    if (before === undefined || after === undefined || before === -1 || after === -1) continue;
    if (previous.workers[before] !== next.workers[after]) moved.add(i);
  }
  return moved;
}

function cellSizeFor(count: number): number {
  if (count <= 400) return 20;
  if (count <= 2_000) return 12;
  if (count <= 10_000) return 6;
  return 4;
}

/**
 * The shard map of one page of an epoch, on a canvas (ten thousand cells draw in a few ms): each
 * cell is a shard, coloured by its owner; the coloured part of a cell grows with the shard's
 * consumed fraction (a full cell is consumed); grey cells have no owner; cells that changed owner
 * in the latest rebalance get a thick outline for ten seconds. Hover or choose a shard number to
 * read its details.
 */
export function ShardMap({
  detail,
  moved,
}: {
  detail: DatasetDetailResponse;
  moved: ReadonlySet<number>;
}) {
  const canvasRef = useRef<HTMLCanvasElement>(null);
  const containerRef = useRef<HTMLDivElement>(null);
  const [width, setWidth] = useState(800);
  const [hover, setHover] = useState<number | null>(null);
  const { dark } = useThemeContext();
  const count = detail.owner.length;
  const cell = cellSizeFor(count);
  const columns = Math.max(1, Math.floor(width / cell));
  const rows = Math.ceil(count / columns);
  const colors = useMemo(() => detail.workers.map(workerColor), [detail.workers]);

  useEffect(() => {
    const container = containerRef.current;
    if (container === null || typeof ResizeObserver === "undefined") return;
    const observer = new ResizeObserver(() => setWidth(Math.max(120, container.clientWidth)));
    observer.observe(container);
    setWidth(Math.max(120, container.clientWidth));
    return () => observer.disconnect();
  }, []);

  useEffect(() => {
    const canvas = canvasRef.current;
    const ctx = canvas?.getContext?.("2d");
    if (canvas === null || canvas === undefined || ctx === null || ctx === undefined) return;
    const ratio = globalThis.devicePixelRatio ?? 1;
    canvas.width = columns * cell * ratio;
    canvas.height = rows * cell * ratio;
    ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
    ctx.clearRect(0, 0, columns * cell, rows * cell);
    const empty = dark ? "#27272a" : "#e4e4e7";
    const unowned = dark ? "#52525b" : "#a1a1aa";
    const gap = cell >= 8 ? 1 : 0;
    const { total_samples: totalSamples, shard_size: size } = detail.dataset;
    for (let i = 0; i < count; i++) {
      const x = (i % columns) * cell;
      const y = Math.floor(i / columns) * cell;
      const inner = cell - gap;
      const samples = shardSize(detail.offset + i, totalSamples, size);
      const fraction = samples > 0 ? Math.min(1, (detail.consumed[i] ?? 0) / samples) : 1;
      const owner = detail.owner[i] ?? -1;
      ctx.fillStyle = empty;
      ctx.fillRect(x, y, inner, inner);
      const color = owner === -1 ? unowned : (colors[owner] ?? unowned);
      // The owner's colour at low strength for the unread part, full strength for the read part.
      ctx.globalAlpha = owner === -1 ? 1 : 0.3;
      ctx.fillStyle = color;
      ctx.fillRect(x, y, inner, inner);
      ctx.globalAlpha = 1;
      if (owner !== -1 && fraction > 0) {
        const h = Math.max(1, Math.round(inner * fraction));
        ctx.fillRect(x, y + inner - h, inner, h);
      }
      if (moved.has(i) && cell >= 6) {
        ctx.strokeStyle = dark ? "#fafafa" : "#18181b";
        ctx.lineWidth = 2;
        ctx.strokeRect(x + 1, y + 1, inner - 2, inner - 2);
      }
    }
  }, [detail, moved, colors, columns, rows, cell, count, dark]);

  const describe = (i: number): string => {
    const owner = detail.owner[i] ?? -1;
    const samples = shardSize(
      detail.offset + i,
      detail.dataset.total_samples,
      detail.dataset.shard_size,
    );
    const consumed = detail.consumed[i] ?? 0;
    return `Shard ${formatCount(detail.offset + i)} · ${
      owner === -1 ? "no owner" : `held by ${detail.workers[owner]}`
    } · ${formatCount(consumed)} of ${formatCount(samples)} samples (${formatPercent(
      samples > 0 ? (consumed / samples) * 100 : 100,
    )})${detail.pinned[i] ? " · pinned to its first reader" : ""}${moved.has(i) ? " · moved in the last rebalance" : ""}`;
  };

  return (
    <div>
      <div ref={containerRef} className="relative w-full">
        <canvas
          ref={canvasRef}
          role="img"
          aria-label={`Shard map: ${formatCount(count)} shards, ${formatCount(detail.workers.length)} workers, ${formatCount(moved.size)} moved in the last rebalance`}
          data-testid="shard-map"
          data-moved={moved.size}
          style={{ width: columns * cell, height: rows * cell }}
          onMouseMove={(event) => {
            const rect = event.currentTarget.getBoundingClientRect();
            const col = Math.floor((event.clientX - rect.left) / cell);
            const row = Math.floor((event.clientY - rect.top) / cell);
            const index = row * columns + col;
            setHover(col < columns && index < count ? index : null);
          }}
          onMouseLeave={() => setHover(null)}
        />
      </div>
      <p className="mt-2 min-h-5 text-sm" aria-live="polite">
        {hover === null ? (
          <span className="muted">Hover a shard to see its owner and progress.</span>
        ) : (
          describe(hover)
        )}
      </p>
    </div>
  );
}
