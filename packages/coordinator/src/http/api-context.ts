import type { Clock } from "@strata/runtime-core";
import type { CoordinatorEngine } from "../engine/types.js";
import type { History } from "../history/history.js";
import type { ClusterMonitor } from "../monitor/cluster-monitor.js";
import type { TaskManager } from "../tasks/task-manager.js";
import type { CoordinatorIdentity } from "../views/status-view.js";
import type { DashboardCache } from "./dashboard-cache.js";

/** What the `/api` routes read: the engine, history, the monitor's measurements and the tasks. */
export interface ApiContext {
  engine: CoordinatorEngine;
  history: History;
  monitor: ClusterMonitor;
  tasks: TaskManager;
  identity: CoordinatorIdentity;
  clock: Clock;
  /** `/api/dashboard`, materialised once a second. */
  dashboard: DashboardCache;
}
