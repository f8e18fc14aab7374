import { createContext, useContext } from "react";
import type { ThemeChoice } from "./use-theme.js";

/** The page theme, shared so charts can redraw in the right colours. */
export interface ThemeContextValue {
  choice: ThemeChoice;
  dark: boolean;
  setChoice(choice: ThemeChoice): void;
}

/** Provided by `AppProviders`. */
export const ThemeContext = createContext<ThemeContextValue>({
  choice: "system",
  dark: false,
  setChoice: () => {},
});

/** The page theme. */
export function useThemeContext(): ThemeContextValue {
  return useContext(ThemeContext);
}
