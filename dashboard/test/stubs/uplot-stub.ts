// jsdom has no canvas, so component tests swap uPlot for this recorder: it keeps the options and
// the data each chart was given, which is what the tests check (the real drawing is covered by
// the end-to-end tests in Chromium).
type Data = unknown[][];

/** Every live stub plot, newest last. */
export const plots: UPlotStub[] = [];

export default class UPlotStub {
  static readonly plots = plots;
  width: number;
  height: number;
  data: Data;
  destroyed = false;
  constructor(
    readonly opts: { width: number; height: number; series: { label?: string }[] },
    data: Data,
    readonly target: HTMLElement,
  ) {
    this.width = opts.width;
    this.height = opts.height;
    this.data = data;
    plots.push(this);
  }
  setData(data: Data): void {
    this.data = data;
  }
  setSize(size: { width: number; height: number }): void {
    this.width = size.width;
    this.height = size.height;
  }
  destroy(): void {
    this.destroyed = true;
    const i = plots.indexOf(this);
    if (i !== -1) plots.splice(i, 1);
  }
}
