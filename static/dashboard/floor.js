// The live floor view: every call the store holds, oldest first, filtered
// by the search, VIRTUALISED: only the rows (or cards) in view plus a small
// overscan are in the DOM, as elements from a pool that are refilled
// rather than rebuilt. One write-only pass per animation frame:
// positions, the window's rows, the scroll anchor; the only reads are the
// scroll position and the size, cached from events.
//
// Two layouts share the virtualiser: dense rows (one line per call, fixed
// height) for big floors, cards for small ones ("auto": cards up to
// CARDS_UP_TO live calls).

import { FloorIndex } from "./floor-index.js";
import { DIRECTION_ARROWS, actingParty, displayState, flagsOf, stateLabel, timerText } from "./calls.js";
import { ALERT_LABELS, actionButton, callContext, othersOn } from "./panels.js";
import { callFilter, groupOf, sortKeyFor } from "./filters.js";

export const ROW_HEIGHT = 34;
const CARD_HEIGHT = 228;
const CARD_MIN_WIDTH = 420; // one line of buttons
const GAP = 12; // between cards, and around them
const OVERSCAN = 6; // lines above and below the viewport
const POOL_MAX = 80;
// "auto": cards up to this many live calls, rows above it; back to cards
// only below CARDS_BACK, so a floor hovering around the limit does not flap.
export const CARDS_UP_TO = 30;
const CARDS_BACK = 25;
const ICONS = new Set(["setup", "ringing", "talking", "held", "parked", "voicemail"]);
const ROLE_PREFIX = { queue: "Queue: ", monitor: "Listening in: " };
const GROUP = "\u0002"; // a group heading's id in the shown list starts with this

export class FloorView {
  /**
   * @param {object} o
   * @param {import("./live.js").LiveStore} o.store
   * @param {import("./calls.js").CallText} o.text
   * @param {HTMLElement} o.root  the role="table" element (scrolls)
   * @param {HTMLElement} o.empty  says so when no call is shown
   */
  constructor({ store, text, root, empty, rowTemplate, cardTemplate, me, ask, onSelect }) {
    Object.assign(this, { store, text, root, empty, me, ask, onSelect });
    this.selected = null; // the call open in the detail panel
    this.grouping = ""; // "" | "queue" | "agent"
    this.filters = null; // the view's filters (filters.js readView)
    this.stale = false; // the page may be wrong: greyed, frozen, no actions
    this.frozenAt = 0; // server ms the timers stopped at while stale
    this._items = null; // the shown list with group headings, when grouped
    this._itemsVersion = -1;
    this.body = root.querySelector(".floor-body");
    this.head = root.querySelector(".floor-head");
    this._columns = null; // the head's column widths, once resolved
    this.templates = { rows: rowTemplate, cards: cardTemplate };
    this.index = new FloorIndex((call) => text.searchText(call));
    this.choice = "auto"; // what the supervisor chose: auto | rows | cards
    this.layout = "rows"; // what is shown
    this.active = new Map(); // id -> element in the DOM
    this.pools = { rows: [], cards: [], group: [] };
    this.transfers = new Map(); // id -> draft target of an open Transfer form
    this.focusTransfer = null;
    this.scrollTop = 0;
    this.width = root.clientWidth;
    this.height = root.clientHeight;
    this.listeners = new Set();
    this._scheduled = false;
    this._toTop = false;
    this._shown = -1;
    this._size = { rowcount: -1, height: -1 };
    // One source for the sizes the virtualiser computes with.
    root.style.setProperty("--row", `${ROW_HEIGHT}px`);

    store.subscribe((change) => this._onStore(change));
    root.addEventListener("scroll", () => this._onScroll(), { passive: true });
    new ResizeObserver(() => {
      this.width = root.clientWidth;
      this.height = root.clientHeight;
      this._columns = null;
      this.renderSoon();
    }).observe(root);
    root.addEventListener("click", (event) => this._onClick(event));
    root.addEventListener("submit", (event) => this._onSubmit(event));
    root.addEventListener("input", (event) => this._onInput(event));
    root.addEventListener("keydown", (event) => this._onKey(event));
    // Timers tick once a second, for the rows in view only.
    setInterval(() => this._tick(), 1000);
  }

  /** `fn()` after each render that changed what is shown (counts). */
  onShown(fn) {
    this.listeners.add(fn);
  }

  get shownCount() {
    return this.index.length;
  }

  /** The view's filters, sort and grouping (filters.js readView). */
  setView(v) {
    const before = this.filters;
    this.filters = v;
    const order = `${v.sort}|${v.group}`;
    if (!before || `${before.sort}|${before.group}` !== order) {
      const key = sortKeyFor(v.sort);
      this.grouping = v.group;
      this.index.setOrder(
        v.group ? (call) => `${groupOf(v.group, call, this.text).key}\u0002${key(call)}` : key,
      );
      this._toTop = true;
    }
    const filterKey = [v.queue, v.agent, v.state, v.dir, v.rec, v.min].join("|");
    if (!before || this._filterKey !== filterKey) {
      this._filterKey = filterKey;
      this.index.setFilter(callFilter(v, () => this._now()));
      this._toTop = true;
    }
    this._pickLayout();
    this.renderSoon();
  }

  /** Open a call in the detail panel (null: close it). */
  select(id) {
    if (id === this.selected) return;
    this.selected = id;
    for (const [key, el] of this.active) el.classList?.toggle("selected", key === id);
    this.onSelect?.(id);
  }

  /** Move the selection to the next (+1) or previous (-1) call shown, and
   *  bring it into view. */
  step(by) {
    const shown = this.index.shown;
    if (!shown.length) return;
    const at = this.selected ? shown.indexOf(this.selected) : -1;
    const next = shown[Math.max(0, Math.min(shown.length - 1, at < 0 ? 0 : at + by))];
    this.select(next);
    this.reveal(next);
  }

  /** Open a call's Transfer form, in view, its input focused. */
  openTransfer(id) {
    this.transfers.set(id, "");
    this.focusTransfer = id;
    this.reveal(id);
  }

  /** Scroll so that call `id` is in view. */
  reveal(id) {
    const items = this._list();
    const at = items.indexOf(id);
    if (at < 0) return;
    const { cols, lineHeight, pad } = this._geometry();
    const y = pad + Math.floor(at / cols) * lineHeight;
    const view = this.height - this._headHeight();
    if (y < this.scrollTop || y + lineHeight > this.scrollTop + view) {
      this._wantScroll = Math.max(0, y - view / 3);
    }
    this.renderSoon();
  }

  /** The page went stale (true) or live again: grey, freeze, disable. */
  setStale(stale) {
    if (stale === this.stale) return;
    this.stale = stale;
    this.frozenAt = stale ? this.store.serverNow() : 0;
    this.root.classList.toggle("stale", stale);
    for (const el of this.active.values()) el._disabled = undefined;
    this.renderSoon();
  }

  /** The supervisor's permitted actions changed (text.allow): redraw
   *  every shown call's buttons. */
  refreshActions() {
    for (const el of this.active.values()) el._actions = undefined;
    this.renderSoon();
  }

  _now() {
    return this.stale ? this.frozenAt : this.store.serverNow();
  }

  /** The shown list: call ids, and group headings when grouped. */
  _list() {
    if (!this.grouping) return this.index.shown;
    if (this._itemsVersion === this.index.version && this._items) return this._items;
    const items = [];
    const counts = new Map();
    let last = null;
    for (const id of this.index.shown) {
      const { label } = groupOf(this.grouping, this.store.get(id), this.text);
      if (label !== last) {
        items.push(GROUP + label);
        last = label;
      }
      items.push(id);
      counts.set(label, (counts.get(label) || 0) + 1);
    }
    this._groupCounts = counts;
    this._items = items;
    this._itemsVersion = this.index.version;
    return this._items;
  }

  get query() {
    return this.index.query;
  }

  setQuery(query) {
    if (!this.index.setQuery(query)) return;
    this._toTop = true;
    this.renderSoon();
  }

  setLayout(choice) {
    this.choice = ["rows", "cards"].includes(choice) ? choice : "auto";
    this._pickLayout();
    this.renderSoon();
  }

  renderSoon() {
    if (this._scheduled) return;
    this._scheduled = true;
    // Skipped when the store's flush has rendered in this frame already.
    requestAnimationFrame(() => this._scheduled && this.render());
  }

  // --- the store's changes ------------------------------------------------

  _onStore(change) {
    if (change.all) {
      const anchor = this._anchor();
      this.index.rebuild(this.store.calls);
      for (const id of this.transfers.keys()) {
        if (!this.store.calls.has(id)) this.transfers.delete(id);
      }
      this._reanchor(anchor);
    } else if (change.ids.size) {
      const anchor = this._anchor();
      this.index.update(this.store.calls, change.ids);
      for (const id of change.ids) {
        if (!this.store.calls.has(id)) this.transfers.delete(id);
      }
      this._reanchor(anchor);
    } else if (!change.status && !change.kinds.has("alerts")) {
      return;
    }
    if (change.kinds.has("alerts")) this._alerted = null;
    this._pickLayout();
    this.render();
  }

  _pickLayout() {
    let layout = this.choice;
    // Groups are headed lines: they need the rows layout.
    if (this.grouping) layout = "rows";
    else if (layout === "auto") {
      const n = this.store.size;
      if (n > CARDS_UP_TO) layout = "rows";
      else if (n < CARDS_BACK || this._shown < 0) layout = "cards";
      else layout = this.layout;
    }
    if (layout === this.layout && this.root.dataset.layout === layout) return;
    for (const el of this.active.values()) el.remove();
    this.active.clear();
    this.layout = layout;
    this.root.dataset.layout = layout;
    this._toTop = true;
  }

  // --- geometry -----------------------------------------------------------

  _geometry() {
    if (this.layout === "rows") {
      return { cols: 1, lineHeight: ROW_HEIGHT, pad: 0, itemWidth: 0 };
    }
    const inner = Math.max(CARD_MIN_WIDTH, this.width - 2 * GAP);
    const cols = Math.max(1, Math.floor((inner + GAP) / (CARD_MIN_WIDTH + GAP)));
    const itemWidth = Math.floor((inner - GAP * (cols - 1)) / cols);
    return { cols, lineHeight: CARD_HEIGHT + GAP, pad: GAP, itemWidth };
  }

  /** The first call in view and how far into its line we are scrolled. */
  _anchor() {
    if (this.scrollTop <= 0 || !this.index.length) return null;
    const { cols, lineHeight, pad } = this._geometry();
    const line = Math.floor(Math.max(0, this.scrollTop - pad) / lineHeight);
    const items = this._list();
    const id = items[Math.min(line * cols, items.length - 1)];
    return { id, key: this.index.keyOf(id), into: this.scrollTop - pad - line * lineHeight };
  }

  /** Keep the calls in view where they were when calls above them end or
   *  start (the floor churns; the page must not drift under the reader). */
  _reanchor(anchor) {
    if (!anchor) return;
    const { cols, lineHeight, pad } = this._geometry();
    let at;
    if (this.grouping) {
      at = this._list().indexOf(anchor.id);
      if (at < 0) return;
    } else {
      at = this.index.lowerBound(anchor.key);
    }
    this._wantScroll = pad + Math.floor(at / cols) * lineHeight + anchor.into;
  }

  _onScroll() {
    const top = this.root.scrollTop;
    if (top === this.scrollTop) return;
    this.scrollTop = top;
    this.renderSoon();
  }

  // --- the one write pass -------------------------------------------------

  render() {
    this._scheduled = false;
    if (this.layout === "rows" && !this._columns) this._measureColumns();
    const shown = this._list();
    const count = shown.length;
    const calls = this.index.length;
    const { cols, lineHeight, pad, itemWidth } = this._geometry();
    const lines = Math.ceil(count / cols);
    const total = lines ? pad * 2 + lines * lineHeight - (pad ? GAP : 0) : 0;

    if (this._size.rowcount !== count) {
      this.root.setAttribute("aria-rowcount", String(count));
      this._size.rowcount = count;
    }
    if (this._size.height !== total) {
      this.body.style.height = `${total}px`;
      this._size.height = total;
    }
    let scroll = this._wantScroll;
    this._wantScroll = undefined;
    if (this._toTop) {
      scroll = 0;
      this._toTop = false;
    }
    if (scroll !== undefined) {
      const max = Math.max(0, total + this._headHeight() - this.height);
      scroll = Math.max(0, Math.min(Math.round(scroll), max));
      if (scroll !== this.scrollTop) {
        this.root.scrollTop = scroll;
        this.scrollTop = scroll;
      }
    }

    const top = Math.max(0, this.scrollTop - this._headHeight() - pad);
    const firstLine = Math.max(0, Math.floor(top / lineHeight) - OVERSCAN);
    const lastLine = Math.min(lines, Math.ceil((top + this.height) / lineHeight) + OVERSCAN);
    const first = firstLine * cols;
    const last = Math.min(count, lastLine * cols);

    // A call that stays in the window keeps its row. Rows whose call left
    // are refilled in place for the calls that came (in DOM order, so a
    // jump moves nothing), except one holding the keyboard focus: that
    // one must never start acting on another call.
    const wanted = new Set();
    for (let i = first; i < last; i++) wanted.add(shown[i]);
    const focused = document.activeElement;
    const spare = { call: [], group: [] };
    for (const el of this.body.children) {
      const id = el.dataset.sessionId;
      if (wanted.has(id) && this.active.get(id) === el) continue;
      this.active.delete(id);
      if (el.contains(focused)) continue; // removed below, not reused
      spare[el._group ? "group" : "call"].push(el);
    }
    spare.call.reverse(); // pop() takes them in DOM order
    const els = [];
    for (let i = first; i < last; i++) {
      const id = shown[i];
      let el = this.active.get(id);
      if (!el) {
        const group = id.startsWith(GROUP);
        el = group
          ? spare.group.pop() || this.pools.group.pop() || this._createGroup()
          : spare.call.pop() || this.pools[this.layout].pop() || this._create();
        el._call = null; // refill everything
        el.dataset.sessionId = id;
        if (!group) el.classList.toggle("selected", id === this.selected);
        this.active.set(id, el);
      }
      els.push(el);
    }
    // Whatever is attached and not in use now (spares left over, a row
    // that held the focus) goes back to the pool, once.
    const unused = [];
    for (const el of this.body.children) {
      if (this.active.get(el.dataset.sessionId) !== el) unused.push(el);
    }
    for (const el of unused) {
      el.remove();
      const pool = el._group ? this.pools.group : this.pools[el._layout];
      if (pool && pool.length < POOL_MAX) pool.push(el);
    }
    this._order(els);

    for (let i = first; i < last; i++) {
      const el = els[i - first];
      const id = shown[i];
      const line = Math.floor(i / cols);
      const x = pad + (i % cols) * (itemWidth + GAP);
      const y = pad + line * lineHeight;
      const pos = this.layout === "rows" ? `translateY(${y}px)` : `translate(${x}px,${y}px)`;
      if (el._pos !== pos) {
        el.style.transform = pos;
        el._pos = pos;
      }
      if (itemWidth && el._width !== itemWidth) {
        el.style.width = `${itemWidth}px`;
        el._width = itemWidth;
      }
      if (el._row !== i + 1) {
        el.setAttribute("aria-rowindex", String(i + 1));
        el._row = i + 1;
      }
      if (el._group) this._fillGroup(el, id.slice(1));
      else this._fill(el, this.store.get(id));
    }

    this.empty.hidden = count > 0;
    if (!count) {
      const narrowed = this.index.query || this.index.filter;
      let text = "No live calls.";
      if (!this.store.loaded) text = "Loading the floor…";
      else if (this.store.size && narrowed) {
        const search = this.index.query ? ` “${this.index.query}”` : "";
        text = `No live calls match${search}${this.index.filter ? " these filters" : ""}.`;
      }
      this.empty.textContent = text;
    }
    if (this.focusTransfer) {
      const input = this.active.get(this.focusTransfer)?.querySelector("form.transfer input");
      if (input) input.focus({ preventScroll: true });
      this.focusTransfer = null;
    }
    if (this._shown !== calls || this._total !== this.store.size) {
      this._shown = calls;
      this._total = this.store.size;
      for (const fn of this.listeners) fn();
    }
  }

  /** Put `els` in this order in the body, moving as few as possible: the
   *  rows already in order (the longest increasing run of their current
   *  positions) stay, the others are moved or inserted around them. */
  _order(els) {
    const at = new Map();
    let k = 0;
    for (const el of this.body.children) at.set(el, k++);
    const positions = els.map((el) => (at.has(el) ? at.get(el) : -1));
    const keep = longestIncreasing(positions);
    let next = null;
    for (let i = els.length - 1; i >= 0; i--) {
      if (!keep[i]) this.body.insertBefore(els[i], next);
      next = els[i];
    }
  }

  /** The head's grid columns in px, for the rows' cells (--w1…): read
   *  once per resize, before this frame's writes. */
  _measureColumns() {
    const widths = getComputedStyle(this.head).gridTemplateColumns.split(" ");
    if (!widths.every((w) => w.endsWith("px"))) return; // not laid out yet
    widths.forEach((w, i) => this.root.style.setProperty(`--w${i + 1}`, w));
    this._columns = widths;
  }

  _headHeight() {
    // The column heads are a sticky first line in the rows layout only.
    return this.layout === "rows" ? ROW_HEIGHT : 0;
  }

  // --- one row ------------------------------------------------------------

  _create() {
    const el = this.templates[this.layout].content.firstElementChild.cloneNode(true);
    el._f = {
      icon: el.querySelector(".icon use"),
      state: el.querySelector(".state"),
      pending: el.querySelector(".pending-label"),
      timer: el.querySelector(".timer"),
      arrow: el.querySelector(".arrow"),
      direction: el.querySelector(".direction"),
      agent: el.querySelector(".agent"),
      customer: el.querySelector(".customer"),
      queue: el.querySelector(".queue"),
      flags: el.querySelector(".flags"),
      error: el.querySelector(".call-error"),
      actions: el.querySelector(".actions"),
      parties: el.querySelector(".parties"),
      queueLine: el.querySelector(".queue-line"),
      queueLabel: el.querySelector(".queue-line .label"),
      seen: el.querySelector(".seen"),
    };
    el._layout = this.layout;
    if (this.layout === "cards") el.style.height = `${CARD_HEIGHT}px`;
    return el;
  }

  _createGroup() {
    const el = document.createElement("div");
    el.className = "group-head";
    el.setAttribute("role", "row");
    const cell = document.createElement("span");
    cell.setAttribute("role", "rowheader");
    el.append(cell);
    el._group = true;
    el._cell = cell;
    return el;
  }

  _fillGroup(el, label) {
    const n = this._groupCounts?.get(label) || 0;
    const text = `${label} · ${n} call${n === 1 ? "" : "s"}`;
    if (el._text !== text) {
      el._text = text;
      el._cell.textContent = text;
    }
  }

  /** Alerts on calls: call id -> the alerts' labels ("Long hold"). */
  _alerts() {
    if (this._alerted) return this._alerted;
    const by = new Map();
    for (const alert of this.store.alerts.values()) {
      if (alert.subject !== "call") continue;
      const label = ALERT_LABELS[alert.kind] || alert.kind;
      by.set(alert.subjectId, by.has(alert.subjectId) ? `${by.get(alert.subjectId)} · ${label}` : label);
    }
    this._alerted = by;
    return by;
  }

  /** Write what differs from what the element shows. */
  _fill(el, call) {
    if (!call) return;
    const f = el._f;
    const pending = this.store.pendingFor(call.id);
    const error = this.store.errorFor(call.id);
    const transfer = this.transfers.has(call.id);
    const alert = this._alerts().get(call.id) || "";
    if (el._alert !== alert) {
      el._alert = alert;
      el.classList.toggle("alerted", Boolean(alert));
      el._call = null; // the flags show it
    }
    const seen = othersOn(this.store.attention.get(call.id), this.me, this.text);
    if (el._seen !== seen) {
      el._seen = seen;
      if (f.seen) {
        f.seen.textContent = seen ? `👁 ${seen}` : "";
        f.seen.title = seen;
      }
      el.classList.toggle("watched", Boolean(seen));
    }
    if (el._call !== call) {
      const previous = el._call;
      el._call = call;
      const state = displayState(call);
      if (el.dataset.state !== state || !previous) {
        el.dataset.state = state;
        f.icon.setAttribute("href", `#icon-${ICONS.has(state) ? state : "ringing"}`);
        f.state.textContent = stateLabel(call);
      }
      setText(f.arrow, DIRECTION_ARROWS[call.dir] || "");
      setText(f.direction, call.dir || "");
      setText(f.agent, this.text.agentLabel(call) || "—");
      setText(f.customer, this.text.customerLabel(call) || "—");
      const queue = this.text.queueLabel(call);
      setText(f.queue, queue);
      if (f.queueLine) {
        // "Queue: Sales", or just "Queue call" when its name is unknown.
        f.queueLine.hidden = !queue;
        f.queueLabel.hidden = queue === "Queue call";
      }
      const flags = [alert && `⚠ ${alert}`, flagsOf(call)].filter(Boolean).join(" · ");
      if (setText(f.flags, flags)) f.flags.title = flags; // in full when cut
      if (f.parties) this._fillParties(f.parties, call);
      el._timer = timerText(call, this._now());
      f.timer.textContent = el._timer;
    }
    const busy = pending ? this.text.pendingLabel(pending.action) : "";
    if (el._busy !== busy) {
      el._busy = busy;
      f.pending.textContent = busy ? ` · ${busy}` : "";
      el.classList.toggle("pending", Boolean(busy));
    }
    if (el._error !== error) {
      el._error = error;
      f.error.textContent = error ? `⚠ ${error}` : "";
      f.error.title = error;
      f.error.hidden = !error;
    }
    this._fillActions(el, call, Boolean(pending), transfer);
  }

  _fillParties(list, call) {
    // Every live leg with its RingCentral status (cards only: rows have
    // no room), then how many left.
    // (A customer without an id is the far end as the agent's leg names
    // it: shown on the Customer line, not as a leg of its own.)
    const legs = [call.agent, call.customer, ...(call.others || [])].filter((p) => p && p.id);
    const lines = legs.map((p) => (ROLE_PREFIX[p.role] || "") + this.text.partyLine(p));
    if (call.left) lines.push(`${call.left} ${call.left === 1 ? "leg" : "legs"} left the call`);
    const key = lines.join("\n");
    if (list._key === key) return;
    list._key = key;
    list.replaceChildren(
      ...lines.map((line) => {
        const li = document.createElement("li");
        li.textContent = line;
        return li;
      }),
    );
  }

  _fillActions(el, call, busy, transfer) {
    const box = el._f.actions;
    if (!this.text.canControl || !actingParty(call)) {
      if (el._actions !== "") {
        box.replaceChildren();
        el._actions = "";
      }
      return;
    }
    if (transfer) {
      if (el._actions === "transfer") return;
      el._actions = "transfer";
      box.replaceChildren(this._transferForm(call.id));
      return;
    }
    const offered = this.text.offeredActions(call);
    const key = offered.map((a) => a.name).join(",");
    if (el._actions !== key) {
      el._actions = key;
      box.replaceChildren(
        ...offered.map(actionButton),
      );
      el._disabled = undefined;
      el._context = undefined;
    }
    // The name stays "Hold"; the description says which call it acts on.
    const context = callContext(call, this.text);
    if (el._context !== context) {
      el._context = context;
      for (const b of box.children) b.setAttribute("aria-description", context);
    }
    const off = busy || this.stale;
    if (el._disabled !== off) {
      el._disabled = off;
      for (const b of box.children) b.disabled = off;
    }
  }

  _transferForm(id) {
    const form = document.createElement("form");
    form.className = "transfer";
    const input = document.createElement("input");
    input.name = "target";
    input.placeholder = "Extension or +number";
    input.setAttribute("aria-label", "Transfer to");
    input.required = true;
    input.autocomplete = "off";
    input.value = this.transfers.get(id) || "";
    const go = document.createElement("button");
    go.type = "submit";
    go.textContent = "Transfer now";
    const cancel = document.createElement("button");
    cancel.type = "button";
    cancel.textContent = "Cancel";
    cancel.dataset.cancel = "transfer";
    form.append(input, go, cancel);
    return form;
  }

  _tick() {
    if (this.filters?.min && !this.stale) {
      // Calls cross a duration filter's line as time passes.
      this.index.setFilter(callFilter(this.filters, () => this._now()));
      this.render();
    }
    const now = this._now();
    for (const el of this.active.values()) {
      if (!el._call) continue;
      const text = timerText(el._call, now);
      if (text !== el._timer) {
        el._timer = text;
        el._f.timer.textContent = text;
      }
    }
  }

  // --- the supervisor's clicks -------------------------------------------

  _rowOf(target) {
    const el = target.closest("[data-session-id]");
    const call = el && this.store.get(el.dataset.sessionId);
    return call ? { el, call } : null;
  }

  _onClick(event) {
    const button = event.target.closest("button");
    if (!button) {
      // A click on a call (not on a button or a form) opens it.
      if (event.target.closest("form, input, a")) return;
      const row = this._rowOf(event.target);
      if (row) this.select(row.call.id);
      return;
    }
    if (button.type === "submit") return;
    const row = this._rowOf(button);
    if (!row) return;
    const { call } = row;
    this.select(call.id);
    if (button.dataset.cancel === "transfer") {
      this.transfers.delete(call.id);
      this.renderSoon();
      return;
    }
    const action = this.text.actionByName[button.dataset.action];
    if (!action || !actingParty(call)) return;
    if (action.name === "transfer") {
      this.openTransfer(call.id);
      return;
    }
    this.act(call, action.name);
  }

  /**
   * Send an action on a call's agent leg, asking first when the action
   * says so (End) or when another supervisor has a command under way on
   * the call. Returns a promise of whether it was sent.
   */
  async act(call, name, params) {
    const action = this.text.actionByName[name];
    if (!action || this.stale || this.store.pendingFor(call.id)) return false;
    if (!call.agent?.id && name !== "end") return false;
    if (!actingParty(call)) return false;
    const others = (this.store.attention.get(call.id)?.pending || []).filter((p) => p.user !== this.me);
    const questions = [];
    if (others.length) {
      const who = others.map((p) => `${p.user} (${this.text.pendingLabel(p.action)})`).join(", ");
      questions.push(`${who} ${others.length === 1 ? "has" : "have"} a command under way on this call.`);
    }
    if (action.confirm) questions.push(action.confirm);
    if (questions.length) {
      const ok = await this.ask({
        title: `${action.label}: ${callContext(call, this.text)}`,
        text: questions.join(" "),
        confirm: others.length ? `${action.label} anyway` : action.label,
        danger: name === "end",
      });
      if (!ok) return false;
      call = this.store.get(call.id);
      if (!call || !actingParty(call)) return false;
    }
    if (!params && action.params.includes("recordingId")) params = { recordingId: call.agent?.rec?.id };
    return this.store.command(call.id, actingParty(call).id, action.name, params) !== null;
  }

  _onSubmit(event) {
    const form = event.target.closest("form.transfer");
    if (!form) return;
    event.preventDefault();
    const row = this._rowOf(form);
    if (!row?.call.agent) return;
    const target = form.elements.target.value.trim();
    if (!target) return;
    const params = target.startsWith("+") ? { phoneNumber: target } : { extensionNumber: target };
    this.transfers.delete(row.call.id);
    this.act(row.call, "transfer", params);
    this.renderSoon();
  }

  _onInput(event) {
    const form = event.target.closest("form.transfer");
    const row = form && this._rowOf(form);
    if (row) this.transfers.set(row.call.id, event.target.value);
  }

  _onKey(event) {
    if (event.key !== "Escape") return;
    const form = event.target.closest("form.transfer");
    const row = form && this._rowOf(form);
    if (!row) return;
    this.transfers.delete(row.call.id);
    this.renderSoon();
  }
}

/** Which entries (>= 0) form a longest strictly increasing subsequence
 *  of `values` (entries < 0 never do): a boolean per entry. */
export function longestIncreasing(values) {
  const tails = []; // index of the smallest tail of each run length
  const before = new Array(values.length).fill(-1);
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (v < 0) continue;
    let lo = 0;
    let hi = tails.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (values[tails[mid]] < v) lo = mid + 1;
      else hi = mid;
    }
    if (lo > 0) before[i] = tails[lo - 1];
    tails[lo] = i;
  }
  const keep = new Array(values.length).fill(false);
  for (let i = tails.length ? tails[tails.length - 1] : -1; i >= 0; i = before[i]) keep[i] = true;
  return keep;
}

/** Set an element's text if it differs; true when it was written. */
function setText(el, text) {
  if (!el || el.textContent === text) return false;
  el.textContent = text;
  return true;
}
