// jsdom set-up for component tests: unmount after each test, give elements a size so the
// virtualised tables render rows, and a canvas that draws nothing (jsdom has none).
import { cleanup } from "@testing-library/react";

afterEach(() => {
  cleanup();
  localStorage.clear();
});

Object.defineProperty(HTMLElement.prototype, "offsetHeight", { configurable: true, value: 800 });
Object.defineProperty(HTMLElement.prototype, "offsetWidth", { configurable: true, value: 1200 });
Object.defineProperty(HTMLElement.prototype, "clientWidth", { configurable: true, value: 1200 });
HTMLCanvasElement.prototype.getContext = (() => null) as unknown as HTMLCanvasElement["getContext"];
