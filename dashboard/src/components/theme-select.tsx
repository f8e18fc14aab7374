import { useThemeContext } from "../theme/theme-context.js";
import type { ThemeChoice } from "../theme/use-theme.js";

/** Chooses light, dark or the system's theme (labelled for screen readers). */
export function ThemeSelect({ id = "theme-select" }: { id?: string }) {
  const { choice, setChoice } = useThemeContext();
  return (
    <div className="flex items-center gap-2">
      <label htmlFor={id} className="text-sm muted">
        Theme
      </label>
      <select
        id={id}
        className="input w-auto py-1"
        value={choice}
        onChange={(event) => setChoice(event.target.value as ThemeChoice)}
      >
        <option value="system">System</option>
        <option value="light">Light</option>
        <option value="dark">Dark</option>
      </select>
    </div>
  );
}
