import { createCoordinatorEngine } from "./src/engine/index.js";
import { createMemoryStore } from "./src/store/index.js";
const e = createCoordinatorEngine({ store: createMemoryStore(), maxWorkers: 100000, heartbeatTimeoutMs: 600000 });
await e.start();
await Promise.all(Array.from({ length: 10000 }, (_, i) => e.registerWorker({ workerId: `w${i}`, hostname: "h", port: 0, gpuCount: 0, memoryBytes: 0, metadata: {} })));
for (let i = 0; i < 10000; i++) e.heartbeat({ workerId: `w${i}`, state: "training", step: 5, resources: { cpuPercent: 10, memoryUsedBytes: 100, gpus: [], diskReadBytes: 0, diskWriteBytes: 0, networkRxBytes: 0, networkTxBytes: 0 } });
const times = [];
for (let r = 0; r < 30; r++) { const t = performance.now(); e.snapshot(); times.push(performance.now() - t); }
times.sort((a, b) => a - b);
console.log("snapshot median", times[15].toFixed(2), "min", times[0].toFixed(2), "max", times[29].toFixed(2));
const t2 = [];
for (let r = 0; r < 30; r++) { const t = performance.now(); for (let i = 0; i < 10000; i++) e.heartbeat({ workerId: `w${i}`, step: r }); t2.push(performance.now() - t); }
t2.sort((a, b) => a - b);
console.log("10k heartbeats median", t2[15].toFixed(2));
await e.close();
