// The page's state that belongs in the address bar (search, layout): read
// on load, written as it changes, restored by the back button. Views never
// touch `location` or `history` themselves.

/** The query parameter `name`, or `fallback` when it is absent or empty. */
export function readParam(name, fallback = "") {
  const value = new URLSearchParams(location.search).get(name);
  return value === null || value === "" ? fallback : value;
}

/**
 * Set query parameters (a value of "", null or undefined removes one).
 * `push: true` makes a new history entry (a deliberate choice the back
 * button should undo); otherwise the current entry is replaced, so typing
 * in the search box does not flood the history.
 */
export function writeParams(values, { push = false } = {}) {
  const url = new URL(location.href);
  for (const [name, value] of Object.entries(values)) {
    if (value === "" || value === null || value === undefined) url.searchParams.delete(name);
    else url.searchParams.set(name, value);
  }
  if (url.href === location.href) return;
  if (push) history.pushState(null, "", url);
  else history.replaceState(null, "", url);
}

/** Call `fn()` whenever the back or forward button changes the address. */
export function onBack(fn) {
  addEventListener("popstate", () => fn());
}
