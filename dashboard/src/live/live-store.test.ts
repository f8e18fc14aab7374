import { eventFixture } from "../../test/fixtures/api-fixtures.js";
import { createLiveStore } from "./live-store.js";

describe("live store", () => {
  test("ticks append samples in columns, new series backfilled with nulls, oldest dropped", () => {
    const store = createLiveStore({ maxSamples: 3, now: () => 1_000 });
    let notified = 0;
    const unsubscribe = store.subscribe("samples", () => notified++);
    store.addTick({ at: 1_000, sample: { steps_per_second: 1 }, workers: [] });
    store.addTick({ at: 2_000, sample: { steps_per_second: 2, workers_alive: 4 }, workers: [] });
    store.addTick({ at: 2_000, sample: { steps_per_second: 9 }, workers: [] }); // same second: ignored
    store.addTick({ at: 3_000, sample: { steps_per_second: null, workers_alive: 5 }, workers: [] });
    store.addTick({ at: 4_000, sample: { steps_per_second: 4, workers_alive: 6 }, workers: [] });
    const samples = store.getSamples();
    expect(samples.at).toEqual([2_000, 3_000, 4_000]);
    expect(samples.series.steps_per_second).toEqual([2, null, 4]);
    expect(samples.series.workers_alive).toEqual([4, 5, 6]);
    expect(store.getLatestSample()).toEqual({
      at: 4_000,
      values: { steps_per_second: 4, workers_alive: 6 },
    });
    expect(notified).toBe(5);
    unsubscribe();
  });

  test("each tick gives a new samples object, so subscribers re-render", () => {
    const store = createLiveStore();
    store.addTick({ at: 1, sample: {}, workers: [] });
    const first = store.getSamples();
    store.addTick({ at: 2, sample: {}, workers: [] });
    expect(store.getSamples()).not.toBe(first);
  });

  test("the coordinator clock offset comes from the tick time", () => {
    let browser = 10_000;
    const store = createLiveStore({ now: () => browser });
    expect(store.serverNow()).toBe(10_000);
    store.addTick({ at: 12_500, sample: {}, workers: [] });
    browser = 11_000;
    expect(store.serverNow()).toBe(13_500);
  });

  test("events are kept in seq order, each once, at most maxEvents", () => {
    const store = createLiveStore({ maxEvents: 2 });
    const a = eventFixture();
    const b = eventFixture();
    const c = eventFixture();
    store.addEvent(a);
    store.addEvent(b);
    store.addEvent(b);
    store.addEvent(a);
    expect(store.getEvents().map((e) => e.seq)).toEqual([a.seq, b.seq]);
    store.addEvent(c);
    expect(store.getEvents().map((e) => e.seq)).toEqual([b.seq, c.seq]);
  });

  test("the clock ticks only while something listens", () => {
    jest.useFakeTimers();
    try {
      const store = createLiveStore();
      jest.advanceTimersByTime(5_000);
      expect(store.getClock()).toBe(0);
      const off = store.subscribe("clock", () => {});
      jest.advanceTimersByTime(3_000);
      expect(store.getClock()).toBe(3);
      off();
      jest.advanceTimersByTime(3_000);
      expect(store.getClock()).toBe(3);
      expect(jest.getTimerCount()).toBe(0);
    } finally {
      jest.useRealTimers();
    }
  });

  test("while ticks arrive the clock moves with them, not also by itself", () => {
    jest.useFakeTimers();
    try {
      let browser = 0;
      const store = createLiveStore({ now: () => browser });
      const off = store.subscribe("clock", () => {});
      for (let i = 1; i <= 3; i++) {
        browser = i * 1_000 - 400;
        store.addTick({ at: browser, sample: {}, workers: [] });
        browser = i * 1_000;
        jest.advanceTimersByTime(1_000);
      }
      expect(store.getClock()).toBe(3);
      browser = 10_000;
      jest.advanceTimersByTime(2_000);
      expect(store.getClock()).toBe(5);
      off();
    } finally {
      jest.useRealTimers();
    }
  });
});
