import type { WorkerView } from "../engine/types.js";
import { WorkerRates } from "./worker-rates.js";

const view = (lastHeartbeatMs: number, currentStep: number, samplesConsumed = 0, incarnation = 1) =>
  ({ workerId: "w", incarnation, lastHeartbeatMs, currentStep, samplesConsumed }) as WorkerView;

test("step rates come from successive heartbeats' steps over time", () => {
  const rates = new WorkerRates();
  rates.observe([view(1_000, 10)]);
  expect(rates.stepRate("w")).toBeNull(); // one report
  rates.observe([view(1_000, 10)]); // the same heartbeat seen again
  expect(rates.stepRate("w")).toBeNull();
  rates.observe([view(3_000, 30)]);
  expect(rates.stepRate("w")).toBe(10);
  rates.observe([view(5_000, 70)]);
  expect(rates.stepRate("w")).toBe(15); // (70 − 10) / 4 s
  rates.observe([view(16_000, 180)]);
  expect(rates.stepRate("w")).toBeCloseTo(10, 5); // window of ~10 s: (180 − 70) / 11 s
  rates.observe([view(17_000, 5)]); // a new task started over
  expect(rates.stepRate("w")).toBeNull();
  rates.observe([view(18_000, 7, 0, 2)]); // a new incarnation
  expect(rates.stepRate("w")).toBeNull();
  rates.observe([]);
  expect(rates.stepRate("w")).toBeNull();
});

test("samples consumed accumulate across observations", () => {
  const rates = new WorkerRates();
  rates.observe([view(1, 0, 0)]);
  rates.observe([view(2, 0, 40)]);
  rates.observe([view(3, 0, 100)]);
  expect(rates.samplesTotal).toBe(100);
});
