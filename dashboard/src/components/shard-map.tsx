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
  if (count <= 100) return 28;
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
  const mutedFill = dark ? "#71717a" : "#52525b";

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
    const complete = dark ? "#71717a" : "#52525b";
    const outline = dark ? "#52525b" : "#a1a1aa";
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
      if (owner === -1) {
        if (fraction >= 1) {
          // Consumed in full: nobody needs to hold it any more.
          ctx.fillStyle = complete;
          ctx.fillRect(x, y, inner, inner);
        } else if (cell >= 6) {
          // Not finished and held by nobody (no live worker): an outlined cell.
          ctx.strokeStyle = outline;
          ctx.lineWidth = 1;
          ctx.strokeRect(x + 0.5, y + 0.5, inner - 1, inner - 1);
        }
      } else {
        const color = colors[owner] ?? complete;
        // The owner's colour faint for the unread part, full for the read part.
        ctx.globalAlpha = 0.3;
        ctx.fillStyle = color;
        ctx.fillRect(x, y, inner, inner);
        ctx.globalAlpha = 1;
        if (fraction > 0) {
          const h = Math.max(1, Math.round(inner * fraction));
          ctx.fillRect(x, y + inner - h, inner, h);
        }
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
      <ul className="mt-2 flex flex-wrap gap-x-4 gap-y-1 text-xs muted" aria-label="Legend">
        <li className="inline-flex items-center gap-1.5">
          <span className="inline-block h-3 w-3 rounded-sm bg-teal-600/30" aria-hidden="true" />
          held, unread (owner's colour, faint)
        </li>
        <li className="inline-flex items-center gap-1.5">
          <span className="inline-block h-3 w-3 rounded-sm bg-teal-600" aria-hidden="true" />
          read
        </li>
        <li className="inline-flex items-center gap-1.5">
          <span
            className="inline-block h-3 w-3 rounded-sm"
            style={{ background: mutedFill }}
            aria-hidden="true"
          />
          complete
        </li>
        <li className="inline-flex items-center gap-1.5">
          <span
            className="inline-block h-3 w-3 rounded-sm border border-zinc-400"
            aria-hidden="true"
          />
          unfinished, no holder
        </li>
        <li className="inline-flex items-center gap-1.5">
          <span
            className="inline-block h-3 w-3 rounded-sm border-2 border-zinc-900 dark:border-zinc-100"
            aria-hidden="true"
          />
          moved in the last rebalance
        </li>
      </ul>
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
