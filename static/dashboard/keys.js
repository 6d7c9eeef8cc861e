// Keyboard shortcuts for the common actions, listed on `?`, and the colour
// scheme switch (follows the system unless the supervisor chooses).

/** [key, what it does]; the handler in console.js acts on the same keys. */
export const SHORTCUTS = [
  ["?", "Show these shortcuts"],
  ["/", "Search"],
  ["j / k", "Next / previous call"],
  ["Enter", "Open the call in view"],
  ["Esc", "Close the call, the search or a dialog"],
  ["h", "Hold or unhold the open call"],
  ["m", "Mute or unmute its agent"],
  ["r", "Start, pause or resume recording"],
  ["l", "Listen in"],
  ["t", "Transfer"],
  ["e", "End the call (asks first)"],
  ["a", "Acknowledge the oldest open alert"],
  ["1 / 2 / 3", "Calls / Queues / Agents"],
  ["d", "Switch light / dark"],
];

/** Which registry action a key means for a call now (the first offered). */
export const KEY_ACTIONS = {
  h: ["hold", "unhold"],
  m: ["mute", "unmute"],
  r: ["record_start", "record_pause", "record_resume"],
  l: ["listen"],
  t: ["transfer"],
  e: ["end"],
};

/** Whether a key event comes from somewhere typing happens. */
export function typing(event) {
  const el = event.target;
  return Boolean(el.closest?.("input, select, textarea, [contenteditable], dialog[open]"));
}

const THEMES = ["auto", "light", "dark"];
const THEME_NAMES = { auto: "follows the system", light: "light", dark: "dark" };

/** The colour scheme: "auto" (the system's), "light" or "dark"; kept in
 *  localStorage, applied as <html data-theme>. */
export class Theme {
  constructor(button) {
    this.button = button;
    this.value = THEMES.includes(localStorage.getItem("theme")) ? localStorage.getItem("theme") : "auto";
    this._apply();
    button.addEventListener("click", () => this.next());
  }

  next() {
    this.set(THEMES[(THEMES.indexOf(this.value) + 1) % THEMES.length]);
  }

  /** Flip between light and dark (whatever the system says). */
  toggle() {
    const dark =
      this.value === "dark" || (this.value === "auto" && matchMedia("(prefers-color-scheme: dark)").matches);
    this.set(dark ? "light" : "dark");
  }

  set(value) {
    this.value = value;
    localStorage.setItem("theme", value);
    this._apply();
  }

  _apply() {
    if (this.value === "auto") delete document.documentElement.dataset.theme;
    else document.documentElement.dataset.theme = this.value;
    this.button.setAttribute("aria-label", `Colour scheme: ${THEME_NAMES[this.value]}`);
    this.button.title = `Colour scheme: ${THEME_NAMES[this.value]} (d)`;
    this.button.textContent = { auto: "◐", light: "☀", dark: "☾" }[this.value];
  }
}
