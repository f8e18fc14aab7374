import { Code } from "./code.js";
import { RuntimeError } from "./runtime-error.js";
import {
  canTransitionWorker,
  isLiveWorkerState,
  transitionWorker,
  WORKER_STATES,
  WORKER_TRANSITIONS,
  type WorkerState,
} from "./worker-state.js";

describe("worker state machine", () => {
  test("every state has a transition entry and only names known states", () => {
    for (const state of WORKER_STATES) {
      for (const to of WORKER_TRANSITIONS[state]) expect(WORKER_STATES).toContain(to);
    }
  });

  test("dead is terminal: nothing leaves it except staying", () => {
    for (const to of WORKER_STATES) {
      expect(canTransitionWorker("dead", to)).toBe(to === "dead");
    }
  });

  test("disconnecting only goes to dead", () => {
    expect(canTransitionWorker("disconnecting", "dead")).toBe(true);
    expect(canTransitionWorker("disconnecting", "training")).toBe(false);
    expect(canTransitionWorker("disconnecting", "idle")).toBe(false);
  });

  test("working states move freely among themselves and to error", () => {
    const working: WorkerState[] = [
      "idle",
      "loading_data",
      "training",
      "checkpointing",
      "recovering",
    ];
    for (const from of working) {
      for (const to of [...working, "error" as const])
        expect(canTransitionWorker(from, to)).toBe(true);
    }
  });

  test("no state goes back to initializing", () => {
    for (const from of WORKER_STATES) {
      if (from !== "initializing") expect(canTransitionWorker(from, "initializing")).toBe(false);
    }
  });

  test("an illegal transition throws FailedPrecondition naming the worker and states", () => {
    let thrown: unknown;
    try {
      transitionWorker("w-7", "dead", "training");
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(RuntimeError);
    const error = thrown as RuntimeError;
    expect(error.code).toBe(Code.FailedPrecondition);
    expect(error.rawMessage).toContain("w-7");
    expect(error.details).toEqual({ workerId: "w-7", from: "dead", to: "training" });
  });

  test("a legal transition returns the new state", () => {
    expect(transitionWorker("w", "initializing", "training")).toBe("training");
    expect(transitionWorker("w", "error", "recovering")).toBe("recovering");
  });

  test("live states exclude dead and disconnecting", () => {
    expect(WORKER_STATES.filter((s) => !isLiveWorkerState(s)).sort()).toEqual([
      "dead",
      "disconnecting",
    ]);
  });
});
