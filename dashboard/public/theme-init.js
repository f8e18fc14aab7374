// Applies the saved theme before the first paint, so a dark page never flashes white. A file
// rather than an inline script, so the coordinator's Content-Security-Policy can forbid inline code.
try {
  const saved = localStorage.getItem("strata.theme");
  const dark =
    saved === "dark" ||
    (saved !== "light" && window.matchMedia("(prefers-color-scheme: dark)").matches);
  document.documentElement.classList.toggle("dark", dark);
} catch (_error) {
  // Storage may be disabled; the default (light) theme applies.
}
