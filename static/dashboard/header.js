// The fixed header: how many calls are live (and shown), whether the page is
// live, the search box, the layout switch; and the notice area for messages
// that belong to no call. It reads the store and the floor view; it owns no
// state of its own but what the supervisor typed.

import { clockText } from "./panels.js";

/**
 * The connection as one short text: {kind: "up" | "warn" | "down", text}.
 * Pure (tests call it with a plain object shaped like the store).
 */
export function describeConnection(store) {
  if (store.replaying) {
    return { kind: "warn", text: store.playing ? `Replay ${store.speed}×` : "Replay paused" };
  }
  // Link up, socket open, yet no beat from the worker: silent, so stale.
  const stale = store.staleness?.();
  if (stale?.stale && store.connection === "open" && store.synced && store.worker?.connected) {
    return { kind: "down", text: "STALE: no word from the worker" };
  }
  if (store.connection === "connecting" || store.connection === "idle") {
    return { kind: "warn", text: "Connecting…" };
  }
  if (store.connection === "ended") return { kind: "down", text: "Signed out" };
  if (store.connection !== "open") return { kind: "down", text: "Reconnecting…" };
  if (store.loading && store.loading.parts > 1) {
    return { kind: "warn", text: `Loading the floor… ${store.loading.part}/${store.loading.parts}` };
  }
  if (!store.synced) {
    return store.loaded
      ? { kind: "warn", text: "Catching up…" }
      : { kind: "warn", text: "Waiting for the telephony worker…" };
  }
  const worker = store.worker;
  if (worker?.error) return { kind: "down", text: worker.error };
  if (!worker?.connected) return { kind: "warn", text: "Waiting for the telephony worker…" };
  if (store.lag > store.policy.behind) {
    return { kind: "warn", text: `Behind by ${Math.round(store.lag / 1000)} s` };
  }
  return { kind: "up", text: "Live" };
}

const number = new Intl.NumberFormat("en-US");

export function countText(total, shown, query) {
  const live = `${number.format(total)} live call${total === 1 ? "" : "s"}`;
  return query ? `${live} · ${number.format(shown)} shown` : live;
}

/** "Newest event 3 s ago · RingCentral link up" (pure). */
export function freshnessText(store) {
  if (store.replaying) return ""; // the replay bar says what time is shown
  const age = store.eventAge();
  const event = age === null ? "No event yet" : `Newest event ${age < 60 ? `${age} s` : `${Math.floor(age / 60)} min`} ago`;
  const link = !store.worker ? "RingCentral link unknown" : store.worker.connected ? "RingCentral link up" : "RingCentral link DOWN";
  return `${event} · ${link}`;
}


const NOTICE_MS = 8000;

export class Header {
  constructor({ store, floor, status, freshness, count, notice, stale, search, layout, onQuery, onLayout, onStale }) {
    Object.assign(this, { store, floor, status, freshness, count, notice, staleBanner: stale, search, layout, onStale });
    this._stale = null;
    // Staleness also comes from silence (no beat): look once a second.
    setInterval(() => this._renderStatus(), 1000);
    this._status = "";
    this._count = "";
    this._noticeTimer = null;
    store.subscribe((change) => this._onStore(change));
    floor.onShown(() => this._renderCount());
    search.addEventListener("input", () => onQuery(search.value));
    // Escape clears the search (the browser does it for type=search, but
    // not in every browser, and not with the input event everywhere).
    search.addEventListener("keydown", (event) => {
      if (event.key === "Escape" && search.value) {
        search.value = "";
        onQuery("");
      }
    });
    layout.addEventListener("change", (event) => onLayout(event.target.value));
  }

  /** Show the search and layout as the URL says (load, back button). */
  show({ query, layout }) {
    if (this.search.value !== query) this.search.value = query;
    for (const radio of this.layout.querySelectorAll("input[type=radio]")) {
      radio.checked = radio.value === layout;
    }
  }

  _onStore(change) {
    if (change.status) this._renderStatus();
    for (const text of change.notices) this._showNotice(text);
  }

  _renderStatus() {
    this._renderStale();
    if (this.freshness) {
      const fresh = freshnessText(this.store);
      if (this.freshness.textContent !== fresh) this.freshness.textContent = fresh;
      this.freshness.classList.toggle("down", this.store.worker?.connected === false);
    }
    const { kind, text } = describeConnection(this.store);
    const key = `${kind}|${text}`;
    if (key === this._status) return;
    this._status = key;
    this.status.className = `status status-${kind}`;
    this.status.textContent = text;
  }

  /** The STALE banner: shown with since when and why while what the page
   *  shows may be wrong; the floor greys and its actions are off. */
  _renderStale() {
    const { stale, since, reason } = this.store.staleness();
    const text = stale ? `since ${clockText(since)}. ${reason} Calls are shown as they were; actions are off until it is back.` : "";
    if (this.staleBanner && this.staleBanner._text !== text) {
      this.staleBanner._text = text;
      this.staleBanner.querySelector(".stale-text").textContent = text;
      this.staleBanner.hidden = !stale;
    }
    if (this._stale !== stale) {
      this._stale = stale;
      document.body.classList.toggle("is-stale", stale);
      this.onStale?.(stale);
    }
  }

  _renderCount() {
    const text = countText(this.store.size, this.floor.shownCount, this.floor.query);
    if (text === this._count) return;
    this._count = text;
    this.count.textContent = text;
  }

  _showNotice(text) {
    this.notice.textContent = text;
    this.notice.hidden = false;
    clearTimeout(this._noticeTimer);
    this._noticeTimer = setTimeout(() => (this.notice.hidden = true), NOTICE_MS);
  }
}
