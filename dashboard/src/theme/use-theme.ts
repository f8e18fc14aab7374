import { useCallback, useEffect, useState } from "react";

/** The user's theme choice: follow the system, or force light or dark. */
export type ThemeChoice = "system" | "light" | "dark";

const STORAGE_KEY = "strata.theme";

function systemPrefersDark(): boolean {
  return globalThis.matchMedia?.("(prefers-color-scheme: dark)").matches ?? false;
}

function loadChoice(): ThemeChoice {
  try {
    const saved = globalThis.localStorage?.getItem(STORAGE_KEY);
    return saved === "light" || saved === "dark" ? saved : "system";
  } catch {
    return "system";
  }
}

/** Applies a choice to `<html class="dark">` (Tailwind's dark variant). */
function apply(choice: ThemeChoice): boolean {
  const dark = choice === "dark" || (choice === "system" && systemPrefersDark());
  document.documentElement.classList.toggle("dark", dark);
  return dark;
}

/**
 * The theme choice (saved in localStorage, applied before first paint by `public/theme-init.js`),
 * whether the page is dark now, and a setter. With `system`, follows the OS setting live.
 */
export function useTheme(): {
  choice: ThemeChoice;
  dark: boolean;
  setChoice(choice: ThemeChoice): void;
} {
  const [choice, setChoiceState] = useState<ThemeChoice>(loadChoice);
  const [dark, setDark] = useState(() => apply(choice));
  useEffect(() => {
    setDark(apply(choice));
    if (choice !== "system") return;
    const media = globalThis.matchMedia?.("(prefers-color-scheme: dark)");
    const onChange = () => setDark(apply("system"));
    media?.addEventListener("change", onChange);
    return () => media?.removeEventListener("change", onChange);
  }, [choice]);
  const setChoice = useCallback((next: ThemeChoice) => {
    try {
      if (next === "system") globalThis.localStorage?.removeItem(STORAGE_KEY);
      else globalThis.localStorage?.setItem(STORAGE_KEY, next);
    } catch {
      // Storage disabled: the choice lasts until the page reloads.
    }
    setChoiceState(next);
  }, []);
  return { choice, dark, setChoice };
}
