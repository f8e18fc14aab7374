import type { SVGProps } from "react";

/** The dashboard's icon set: 20×20 outline icons drawn with `currentColor`, hidden from screen readers. */
export type IconName =
  | "overview"
  | "workers"
  | "datasets"
  | "checkpoints"
  | "barriers"
  | "tasks"
  | "events"
  | "settings"
  | "menu"
  | "close"
  | "download"
  | "stop"
  | "play"
  | "sun"
  | "moon"
  | "refresh";

const paths: Record<IconName, string> = {
  overview: "M3 3h6v8H3zM11 3h6v5h-6zM11 10h6v7h-6zM3 13h6v4H3z",
  workers: "M3 4h14v4H3zM3 12h14v4H3zM6 6h.01M6 14h.01",
  datasets:
    "M4 5c0-1.1 2.7-2 6-2s6 .9 6 2-2.7 2-6 2-6-.9-6-2zM4 5v10c0 1.1 2.7 2 6 2s6-.9 6-2V5M4 10c0 1.1 2.7 2 6 2s6-.9 6-2",
  checkpoints: "M5 3h8l3 3v11H5zM8 3v4h5M8 12h5M8 15h3",
  barriers: "M4 3v14M16 3v14M4 7h12M4 13h12",
  tasks: "M6 4l10 6-10 6z",
  events: "M4 5h12M4 10h12M4 15h8",
  settings:
    "M10 7a3 3 0 100 6 3 3 0 000-6zM10 2v2M10 16v2M2 10h2M16 10h2M4.3 4.3l1.4 1.4M14.3 14.3l1.4 1.4M4.3 15.7l1.4-1.4M14.3 5.7l1.4-1.4",
  menu: "M3 5h14M3 10h14M3 15h14",
  close: "M5 5l10 10M15 5L5 15",
  download: "M10 3v10M6 9l4 4 4-4M4 17h12",
  stop: "M5 5h10v10H5z",
  play: "M6 4l10 6-10 6z",
  sun: "M10 6a4 4 0 100 8 4 4 0 000-8zM10 1v2M10 17v2M1 10h2M17 10h2M3.6 3.6l1.4 1.4M15 15l1.4 1.4M3.6 16.4L5 15M15 5l1.4-1.4",
  moon: "M16 12.5A7 7 0 017.5 4a7 7 0 108.5 8.5z",
  refresh: "M16 10a6 6 0 11-2-4.5M16 3v4h-4",
};

/** An icon by name. Decorative: label the control that holds it. */
export function Icon({ name, ...props }: { name: IconName } & SVGProps<SVGSVGElement>) {
  return (
    <svg
      viewBox="0 0 20 20"
      fill="none"
      stroke="currentColor"
      strokeWidth={1.6}
      strokeLinecap="round"
      strokeLinejoin="round"
      aria-hidden="true"
      focusable="false"
      width={18}
      height={18}
      {...props}
    >
      <path d={paths[name]} />
    </svg>
  );
}
