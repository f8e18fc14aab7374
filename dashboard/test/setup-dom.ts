// jsdom set-up for component tests: unmount after each test, give elements a size so the
// virtualised tables render rows, and a canvas that draws nothing (jsdom has none). Files that
// opt into the node environment (`@jest-environment node`) skip the DOM parts.
import { cleanup } from "@testing-library/react";

if (typeof window !== "undefined") {
  afterEach(() => {
    cleanup();
    localStorage.clear();
  });
  Object.defineProperty(HTMLElement.prototype, "offsetHeight", { configurable: true, value: 800 });
  Object.defineProperty(HTMLElement.prototype, "offsetWidth", { configurable: true, value: 1200 });
  Object.defineProperty(HTMLElement.prototype, "clientWidth", { configurable: true, value: 1200 });
  Object.defineProperty(HTMLElement.prototype, "clientHeight", { configurable: true, value: 800 });
  HTMLElement.prototype.getBoundingClientRect = () =>
    ({
      x: 0,
      y: 0,
      top: 0,
      left: 0,
      right: 1200,
      bottom: 800,
      width: 1200,
      height: 800,
      toJSON() {},
    }) as DOMRect;
  HTMLCanvasElement.prototype.getContext = (() =>
    null) as unknown as HTMLCanvasElement["getContext"];
}
