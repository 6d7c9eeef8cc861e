// The live call wall (templates/dashboard/wall.html): a TV across the room,
// read-only, opened by a wall token (dashboard/wall.py). One live store
// (live.js) on /ws/wall/, the figures kept incrementally (wall-model.js),
// and a page that redraws at most twice a second: counts, the longest wait
// and hold, the queues' tiles, the alerts, and a grid of calls that shrinks
// and groups by queue as the floor fills, drawing only what fits ("+N
// more"). Never silently frozen: a clock, "updated N s ago", a STALE banner
// when the data may be wrong, reconnection with backoff (live.js), and a
// soft reload every few hours while connected.

import { LiveStore, parseMs } from "./live.js";
import { STATE_LABELS, formatDuration, parseTime, timerText } from "./calls.js";
import { ALERT_LABELS, alertLimit, clockText } from "./panels.js";
import { WallModel, category, layout } from "./wall-model.js";

const $ = (id) => document.getElementById(id);
const json = (id, fallback) => JSON.parse($(id)?.textContent || fallback);

// Redraw at most this often (ms): a TV is read from across a room, and a
// 5,000-call floor changes hundreds of times a second.
const RENDER_EVERY = 500;
// Reload the page (same address) this often while connected: new code,
// and a browser that ran for days starts afresh.
const RELOAD_EVERY = 6 * 3600 * 1000;
const ALERTS_SHOWN = 12; // at most; fewer when they do not fit
const WORDS = { waiting: "Waiting", ringing: "Ringing", talking: "Talking", held: "On hold" };
const number = new Intl.NumberFormat("en-US");

const queues = json("wall-queues", "[]"); // [{ext, number, name}]
const names = new Map(queues.map((q) => [q.ext, q.name || `Queue ${q.number}`]));
const people = json("wall-names", "{}"); // extension id -> name
let settings = json("wall-settings", "{}"); // {name, panels, queues, masked}

const scheme = location.protocol === "https:" ? "wss" : "ws";
const store = new LiveStore({ url: `${scheme}://${location.host}/ws/wall/${location.search}` });
const model = new WallModel({ names, scope: scopeOf(settings) });

function scopeOf(s) {
  return s.queues?.length ? new Set(s.queues) : null;
}

// --- what a call says on a tile ---------------------------------------------

function agentName(call) {
  const leg = call.agent;
  if (!leg) return "";
  return people[leg.ext] || leg.name || (leg.number ? `Line ${leg.number}` : "Agent");
}

function tileWho(call, grouped) {
  const cat = category(call);
  if (cat === "waiting") {
    // Grouped, the heading names the queue: say what the tile is.
    return grouped ? "Waiting" : names.get(call.queue?.ext) || call.queue?.name || "Queue";
  }
  return agentName(call) || call.customer?.number || "Call";
}

function tileWhat(call, who) {
  const cat = category(call);
  const label = cat === "talking" ? STATE_LABELS[call.state] || "Talking" : WORDS[cat];
  const customer = call.customer?.number || call.customer?.name || "";
  const other = customer === who ? "" : customer;
  return other ? `${label} · ${other}` : label;
}

// --- the grid ------------------------------------------------------------------

class Grid {
  constructor(root) {
    this.root = root;
    this.grid = root.querySelector(".calls-grid");
    this.more = root.querySelector(".calls-more");
    this.empty = root.querySelector(".calls-empty");
    this.tiles = new Map(); // call id -> element
    this.heads = new Map(); // group key -> element
    this.density = "";
  }

  /** The grid's room, read at each redraw (before any write: the layout
   *  is clean then, so the read costs nothing): panels shown or hidden,
   *  a STALE banner, a resize all change it. */
  _measure() {
    return { width: this.grid.clientWidth, height: this.grid.clientHeight, vw: innerWidth / 100 };
  }

  /** Draw what fits, reusing each call's tile; rewrite only what differs. */
  render(dirty, now) {
    const order = model.index.order;
    const groups = model.groups();
    const { width, height, vw } = this._measure();
    const plan = layout(groups.map((g) => g.end - g.start), width, height, vw);
    if (plan.density.name !== this.density || plan.cols !== this.cols || plan.grouped !== this.grouped) {
      this.density = plan.density.name;
      this.grouped = plan.grouped;
      for (const el of this.tiles.values()) el._density = "";
      this.cols = plan.cols;
      this.grid.className = `calls-grid density-${plan.density.name}`;
      this.grid.style.setProperty("--cols", String(plan.cols));
      this.grid.style.setProperty("--tile-h", `${plan.density.h}vw`);
    }
    const want = [];
    const seen = new Set();
    let hidden = 0;
    groups.forEach((group, i) => {
      const size = group.end - group.start;
      const shown = plan.shown[i];
      hidden += size - shown;
      if (plan.grouped && shown) want.push(this._head(group, size, shown));
      for (let k = group.start; k < group.start + shown; k++) {
        const id = order[k];
        seen.add(id);
        want.push(this._tile(id, dirty, now));
      }
    });
    for (const [id, el] of this.tiles) {
      if (!seen.has(id)) {
        el.remove();
        this.tiles.delete(id);
      }
    }
    const heads = new Set(want.filter((el) => el.dataset.group !== undefined));
    for (const [key, el] of this.heads) {
      if (!heads.has(el)) {
        el.remove();
        this.heads.delete(key);
      }
    }
    // Put the wanted elements in order, moving only those out of place.
    let cursor = this.grid.firstElementChild;
    for (const el of want) {
      if (el === cursor) cursor = cursor.nextElementSibling;
      else this.grid.insertBefore(el, cursor);
    }
    this._text(this.more, hidden ? `+${number.format(hidden)} more calls not shown` : "");
    this.empty.hidden = order.length > 0;
  }

  _head(group, size, shown) {
    let el = this.heads.get(group.key);
    if (!el) {
      el = document.createElement("div");
      el.className = "group-head";
      el.dataset.group = group.key;
      el.setAttribute("role", "heading");
      el.setAttribute("aria-level", "3");
      this.heads.set(group.key, el);
    }
    const name = group.ext ? names.get(group.ext) || "Queue" : "Not in a queue";
    const waiting = group.ext ? model.queues.get(group.ext)?.waiting || 0 : 0;
    const [title, detail] = el.children.length ? el.children : this._headParts(el);
    this._text(title, name);
    const calls = `${number.format(size)} call${size === 1 ? "" : "s"}`;
    this._text(detail, waiting ? `${number.format(waiting)} waiting · ${calls}` : calls);
    el.title = shown < size ? `${number.format(size - shown)} of its calls not shown` : "";
    el.classList.toggle("has-waiting", waiting > 0);
    return el;
  }

  _headParts(el) {
    el.innerHTML = '<span class="g-name"></span><span class="g-detail"></span>';
    return el.children;
  }

  _tile(id, dirty, now) {
    let el = this.tiles.get(id);
    const call = store.calls.get(id);
    if (!el) {
      el = document.createElement("div");
      el.setAttribute("role", "listitem");
      el.dataset.sessionId = id;
      el.innerHTML = '<span class="t-time"></span><span class="t-who"></span><span class="t-what"></span>';
      this.tiles.set(id, el);
      dirty = null; // fill it whole
    }
    if (!dirty || dirty.has(id) || el._density !== this.density) this._fill(el, call, now);
    return el;
  }

  _fill(el, call, now) {
    el._density = this.density;
    const cls = `tile ${category(call)}${model.info.get(call.id)?.rec ? " rec" : ""}`;
    if (el.className !== cls) el.className = cls;
    el._call = call;
    const [time, who, what] = el.children;
    this._text(time, timerText(call, now));
    const name = tileWho(call, this.grouped);
    this._text(who, name);
    this._text(what, tileWhat(call, name));
  }

  /** Once a second: the timers of the tiles drawn. */
  tick(now) {
    for (const el of this.tiles.values()) this._text(el.firstElementChild, timerText(el._call, now));
  }

  _text(el, text) {
    if (el._text !== text) {
      el._text = text;
      el.textContent = text;
    }
  }
}

// --- the page --------------------------------------------------------------------

const grid = new Grid($("panel-calls"));
const counts = Object.fromEntries([...document.querySelectorAll("[data-count]")].map((el) => [el.dataset.count, el]));
const queueTiles = $("panel-queues").querySelector(".queue-tiles");
const alertList = $("panel-alerts").querySelector(".alert-list");
let dirty = new Set();
let structural = true;
let scheduled = null;
let lastRender = 0;
let lastData = 0; // server ms of the last change seen
let lastNotice = "";

function setText(el, text) {
  if (el._text !== text) {
    el._text = text;
    el.textContent = text;
  }
}

store.subscribe((change) => {
  lastData = store.serverNow();
  if (change.notices.length) lastNotice = change.notices[change.notices.length - 1];
  if (change.all) {
    model.rebuild(store.calls);
    structural = true;
  } else if (change.ids.size) {
    model.update(store.calls, change.ids);
    for (const id of change.ids) dirty.add(id);
  }
  if (change.status) renderStatus();
  renderSoon();
});

store.onFrame = (frame) => {
  if (frame.type !== "wall") return;
  settings = frame;
  applySettings();
};

function applySettings() {
  setText($("wall-name"), settings.name || "");
  document.title = `${settings.name} · Switchboard wall`;
  const panels = new Set(settings.panels?.length ? settings.panels : ["counts", "longest", "queues", "alerts", "calls"]);
  for (const name of ["counts", "longest", "queues", "alerts", "calls"]) $(`panel-${name}`).hidden = !panels.has(name);
  document.body.classList.toggle("no-calls", !panels.has("calls"));
  document.body.classList.toggle("no-side", !panels.has("queues") && !panels.has("alerts") && !panels.has("longest"));
  const scope = scopeOf(settings);
  const same = String([...(scope || [])]) === String([...(model.scope || [])]);
  if (!same) {
    model.scope = scope;
    model.rebuild(store.calls);
  }
  structural = true;
  renderSoon();
}

function renderSoon() {
  if (scheduled) return;
  const wait = Math.max(0, lastRender + RENDER_EVERY - performance.now());
  scheduled = setTimeout(() => requestAnimationFrame(render), wait);
}

function render() {
  scheduled = null;
  lastRender = performance.now();
  const now = store.serverNow();
  const changed = structural ? null : dirty;
  structural = false;
  dirty = new Set();
  if (!$("panel-calls").hidden) grid.render(changed, now);
  renderCounts();
  renderLongest(now);
}

function renderCounts() {
  for (const [name, el] of Object.entries(counts)) setText(el, store.loaded ? number.format(model.counts[name]) : "–");
}

function renderLongest(now) {
  const { wait, hold } = model.longest(store.calls, now);
  const show = (el, item, who) => {
    setText(el.querySelector(".longest-time"), item ? formatDuration(item.ms) : "—");
    setText(el.querySelector(".longest-who"), item ? who(item.call) : "nobody");
  };
  show($("longest-wait"), wait, (call) => names.get(call.queue?.ext) || call.queue?.name || "Queue");
  show($("longest-hold"), hold, (call) => agentName(call) || "A call");
}

function renderQueues(now) {
  if ($("panel-queues").hidden) return;
  const waits = model.queueWaits(store.calls, now);
  const shown = queues.filter((q) => !model.scope || model.scope.has(q.ext));
  // Those with callers waiting first, then by name; as many as fit.
  shown.sort((a, b) => (model.queues.get(b.ext)?.waiting || 0) - (model.queues.get(a.ext)?.waiting || 0));
  const rows = shown.map((q) => {
    const live = model.queues.get(q.ext) || { live: 0, waiting: 0 };
    const today = store.queues.get(q.ext);
    const level = today?.offered ? Math.round((100 * today.withinSl) / today.offered) : null;
    const low = level !== null && level < today.slTarget;
    return { ext: q.ext, name: names.get(q.ext), live, wait: waits.get(q.ext) || 0, level, low, target: today?.slTarget };
  });
  queueTiles.classList.toggle("two", rows.length > 5);
  queueTiles.querySelector(".more")?.remove(); // fit() adds it again
  while (queueTiles.children.length > rows.length) queueTiles.lastElementChild.remove();
  rows.forEach((row, i) => {
    let el = queueTiles.children[i];
    if (!el) {
      el = document.createElement("div");
      el.className = "queue-tile";
      el.innerHTML = '<span class="q-name"></span><span class="q-waiting"></span><span class="q-wait"></span><span class="q-sl"></span>';
      queueTiles.append(el);
    }
    el.dataset.queue = row.ext;
    el.classList.toggle("has-waiting", row.live.waiting > 0);
    el.classList.toggle("low", row.low);
    const [name, waiting, wait, sl] = el.children;
    setText(name, row.name);
    setText(waiting, `${number.format(row.live.live)} live`);
    setText(wait, row.live.waiting ? `${number.format(row.live.waiting)} waiting · ${formatDuration(row.wait)}` : "none waiting");
    setText(sl, row.level === null ? "SL —" : `SL ${row.level} %${row.low ? " ⚠" : ""}`);
    sl.title = row.target ? `Target ${row.target} %` : "";
  });
  fit($("panel-queues"), queueTiles, "queues");
}

/** Hide the items of `list` that do not fit in `panel`, and say how many
 *  ("+N more"). A read of the layout once a second, on a few dozen items. */
function fit(panel, list, what) {
  const items = [...list.children].filter((el) => !el.classList.contains("more"));
  for (const el of items) el.hidden = false;
  let more = list.querySelector(".more");
  if (more) more.remove();
  const bottom = panel.getBoundingClientRect().bottom;
  const over = items.filter((el) => el.getBoundingClientRect().bottom > bottom + 1);
  if (!over.length) return;
  more = document.createElement(list.tagName === "OL" ? "li" : "div");
  more.className = "more";
  list.append(more);
  // Room for the "+N more" line: hide one more when it does not fit.
  let hidden = over.length;
  for (const el of over) el.hidden = true;
  more.textContent = `+${hidden} more ${what}`;
  const shown = items.filter((el) => !el.hidden);
  while (shown.length && more.getBoundingClientRect().bottom > bottom + 1) {
    shown.pop().hidden = true;
    hidden += 1;
    more.textContent = `+${hidden} more ${what}`;
  }
}

function alertSubject(alert) {
  if (alert.subject === "call") {
    const call = store.get(alert.subjectId);
    if (!call) return "a call that ended";
    return alert.kind === "long_wait" ? names.get(call.queue?.ext) || "a queue" : agentName(call) || names.get(call.queue?.ext) || "a call";
  }
  if (alert.subject === "queue") return names.get(alert.subjectId) || "a queue";
  return people[alert.subjectId] || "an agent";
}

function inScope(alert) {
  if (!model.scope) return true;
  if (alert.queue) return model.scope.has(alert.queue);
  return alert.subject === "call" && model.info.has(alert.subjectId);
}

function renderAlerts(now) {
  if ($("panel-alerts").hidden) return;
  const alerts = [...store.alerts.values()]
    .filter(inScope)
    .sort((a, b) => Boolean(a.ackedBy) - Boolean(b.ackedBy) || (a.since < b.since ? -1 : 1));
  setText($("panel-alerts").querySelector(".alert-count"), alerts.length ? `(${alerts.length})` : "");
  $("panel-alerts").querySelector(".alerts-empty").hidden = alerts.length > 0;
  const lines = alerts.slice(0, ALERTS_SHOWN).map((alert) => {
    // A time's alert says for how long; the service level, how low.
    const since = parseTime(alert.since);
    const how = alert.kind === "service_level" || Number.isNaN(since) ? alertLimit(alert) : formatDuration(now - since);
    return [`${ALERT_LABELS[alert.kind] || alert.kind}`, `${alertSubject(alert)} · ${how}${alert.ackedBy ? " · acknowledged" : ""}`, Boolean(alert.ackedBy)];
  });
  alertList.querySelector(".more")?.remove(); // fit() adds it again
  while (alertList.children.length > lines.length) alertList.lastElementChild.remove();
  lines.forEach(([title, detail, acked], i) => {
    let li = alertList.children[i];
    if (!li) {
      li = document.createElement("li");
      li.innerHTML = '<span class="a-title"></span><span class="a-detail"></span>';
      alertList.append(li);
    }
    li.classList.toggle("acked", acked);
    setText(li.firstElementChild, title);
    setText(li.lastElementChild, detail);
  });
  fit($("panel-alerts"), alertList, "alerts");
}

// --- never silently frozen -----------------------------------------------------------

const loadedAt = Date.now();

function renderStatus() {
  const { stale, since, reason } = store.staleness();
  const ended = store.connection === "ended";
  document.body.classList.toggle("is-ended", ended);
  $("wall-ended").hidden = !ended;
  $("wall").hidden = ended;
  if (ended) setText($("wall-ended").querySelector(".wall-ended-text"), lastNotice || store.endedReason || "");
  const banner = $("wall-stale");
  banner.hidden = !stale || ended;
  document.body.classList.toggle("is-stale", stale && !ended);
  if (stale) setText(banner.querySelector(".wall-stale-text"), `since ${clockText(since)} · ${reason}`);
  const status = ended
    ? "Ended"
    : store.connection !== "open"
      ? store.loaded
        ? "Reconnecting…"
        : "Connecting…"
      : !store.synced
        ? "Catching up…"
        : stale
          ? "STALE"
          : "Live";
  const pill = $("wall-status");
  setText(pill, status);
  pill.className = `wall-status ${status === "Live" ? "up" : stale || ended ? "down" : "warn"}`;
}

function everySecond() {
  const now = store.serverNow();
  setText($("wall-clock"), clockText(now));
  const beat = parseMs(store.worker?.beat);
  const at = Math.max(lastData, beat);
  const age = at ? Math.max(0, Math.round((now - at) / 1000)) : null;
  const updated = $("wall-updated");
  setText(updated, age === null ? "waiting for data" : `updated ${age < 120 ? `${age} s` : `${Math.floor(age / 60)} min`} ago`);
  updated.classList.toggle("old", age !== null && age > 15);
  // The soft reload: only while connected and live, so a wall never
  // reloads into a server that is down (it would show an error page).
  if (Date.now() - loadedAt > RELOAD_EVERY && store.connection === "open" && store.synced && !store.staleness().stale) {
    location.reload();
  }
  // Each part on its own: one failing must not stop the others.
  for (const part of [renderStatus, () => !$("panel-calls").hidden && grid.tick(now), renderLongest, renderQueues, renderAlerts]) {
    try {
      part(now);
    } catch (error) {
      console.error("the wall could not redraw a part", error);
    }
  }
}

applySettings();
store.start();
everySecond();
setInterval(everySecond, 1000);

// For DevTools, tests and benchmarks.
window.switchboard = { store, model, grid };
