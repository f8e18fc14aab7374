import type { RouteObject } from "react-router";
import { AppLayout } from "./components/app-layout.js";
import { BarrierDetailPage } from "./pages/barrier-detail-page.js";
import { BarriersPage } from "./pages/barriers-page.js";
import { CheckpointDetailPage } from "./pages/checkpoint-detail-page.js";
import { CheckpointsPage } from "./pages/checkpoints-page.js";
import { DatasetDetailPage } from "./pages/dataset-detail-page.js";
import { DatasetsPage } from "./pages/datasets-page.js";
import { EventsPage } from "./pages/events-page.js";
import { NotFoundPage } from "./pages/not-found-page.js";
import { OverviewPage } from "./pages/overview-page.js";
import { SettingsPage } from "./pages/settings-page.js";
import { TaskDetailPage } from "./pages/task-detail-page.js";
import { TasksPage } from "./pages/tasks-page.js";
import { WorkerDetailPage } from "./pages/worker-detail-page.js";
import { WorkersPage } from "./pages/workers-page.js";

/**
 * The dashboard's URLs (client-side routing; the coordinator answers every unknown path with
 * index.html, so deep links and reloads work).
 */
export const appRoutes: RouteObject[] = [
  {
    path: "/",
    element: <AppLayout />,
    children: [
      { index: true, element: <OverviewPage /> },
      { path: "workers", element: <WorkersPage /> },
      { path: "workers/:id", element: <WorkerDetailPage /> },
      { path: "datasets", element: <DatasetsPage /> },
      { path: "datasets/:id", element: <DatasetDetailPage /> },
      { path: "checkpoints", element: <CheckpointsPage /> },
      { path: "checkpoints/:job/:step", element: <CheckpointDetailPage /> },
      { path: "barriers", element: <BarriersPage /> },
      { path: "barriers/:id", element: <BarrierDetailPage /> },
      { path: "tasks", element: <TasksPage /> },
      { path: "tasks/:id", element: <TaskDetailPage /> },
      { path: "events", element: <EventsPage /> },
      { path: "settings", element: <SettingsPage /> },
      { path: "*", element: <NotFoundPage /> },
    ],
  },
];
