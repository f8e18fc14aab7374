import { NavLink } from "react-router";
import { Icon, type IconName } from "./icons.js";

const items: { to: string; label: string; icon: IconName; end?: boolean }[] = [
  { to: "/", label: "Overview", icon: "overview", end: true },
  { to: "/workers", label: "Workers", icon: "workers" },
  { to: "/datasets", label: "Datasets", icon: "datasets" },
  { to: "/checkpoints", label: "Checkpoints", icon: "checkpoints" },
  { to: "/barriers", label: "Barriers", icon: "barriers" },
  { to: "/tasks", label: "Tasks", icon: "tasks" },
  { to: "/events", label: "Events & logs", icon: "events" },
  { to: "/settings", label: "Settings", icon: "settings" },
];

/** The main navigation: one link per page, the current one marked for sight and screen readers. */
export function SidebarNav({ onNavigate }: { onNavigate?: () => void }) {
  return (
    <nav aria-label="Main">
      <ul className="space-y-0.5">
        {items.map((item) => (
          <li key={item.to}>
            <NavLink
              to={item.to}
              end={item.end ?? false}
              onClick={onNavigate}
              className={({ isActive }) =>
                `flex items-center gap-2.5 rounded-md px-2.5 py-1.5 text-sm font-medium ${
                  isActive
                    ? "bg-teal-50 text-teal-900 dark:bg-teal-950 dark:text-teal-100"
                    : "text-zinc-700 hover:bg-zinc-100 dark:text-zinc-300 dark:hover:bg-zinc-800"
                }`
              }
            >
              <Icon name={item.icon} />
              {item.label}
            </NavLink>
          </li>
        ))}
      </ul>
    </nav>
  );
}
