// The console's bootstrap: one live store (live.js) and the views that
// subscribe to it: the floor of calls (floor.js), the queue view and the
// agent board (boards.js), the alert list and the open call (panels.js),
// the header (header.js). The view (tab, search, filters, sort, grouping,
// layout) lives in the address bar (url.js, filters.js); keyboard
// shortcuts and the colour scheme are in keys.js.

import { LiveStore } from "./live.js";
import { ReplayStore, replayBar } from "./replay.js";
import { CallText } from "./calls.js";
import { FloorView } from "./floor.js";
import { Header } from "./header.js";
import { AgentBoard, QueueBoard, directoryUsers } from "./boards.js";
import { AlertsPanel, DetailPanel } from "./panels.js";
import { DIRECTIONS, DURATIONS, GROUPS, RECORDING, SORTS, STATES, filtering, readView, viewParams } from "./filters.js";
import { KEY_ACTIONS, SHORTCUTS, Theme, typing } from "./keys.js";
import { onBack, writeParams } from "./url.js";

const $ = (id) => document.getElementById(id);
const json = (id, fallback) => JSON.parse($(id)?.textContent || fallback);

// The action registry (telephony/actions.py page_registry), the extension
// directory ({extensionId: {number, name, type}}) and the call queues with
// their members, embedded in the page; `me` is this supervisor's username.
const directory = json("directory", "{}");
const queues = json("queues", "[]");
const me = json("me", '""');
// What this supervisor may do: the page's word first, then the socket's
// ("access" frames, when an administrator changes their role).
const access = json("access", '{"actions": [], "acknowledge": false}');
const text = new CallText({ directory, actions: json("actions", "[]"), allowed: access.actions, acknowledge: access.acknowledge });

// The console, or (at /replay/) the console replaying the call journal.
const replay = json("replay-window", "null");
const scheme = location.protocol === "https:" ? "wss" : "ws";
const store = replay
  ? new ReplayStore({ window: replay, at: Number(new URLSearchParams(location.search).get("at")) || undefined })
  : new LiveStore({ url: `${scheme}://${location.host}/ws/console/` });

// --- confirmation (a real dialog: named buttons, Esc cancels) -------------

const confirmDialog = $("confirm");
function ask({ title, text: body, confirm, danger }) {
  confirmDialog.querySelector("h2").textContent = title;
  confirmDialog.querySelector(".confirm-text").textContent = body;
  const ok = confirmDialog.querySelector(".ok");
  ok.textContent = confirm;
  ok.className = danger ? "ok danger" : "ok";
  confirmDialog.returnValue = "";
  confirmDialog.showModal();
  confirmDialog.querySelector(".cancel").focus();
  return new Promise((resolve) => {
    confirmDialog.addEventListener("close", () => resolve(confirmDialog.returnValue === "ok"), { once: true });
  });
}

// --- the views -------------------------------------------------------------

const root = $("floor");
let detail = null;
const floor = new FloorView({
  store,
  text,
  root,
  empty: $("empty"),
  rowTemplate: $("row-template"),
  cardTemplate: $("card-template"),
  me,
  ask,
  onSelect: (id) => detail?.show(id),
});
detail = new DetailPanel({ store, text, root: $("detail"), floor, me });

let view = readView(new URLSearchParams(location.search));

/** Change the view and the address bar; `push` makes a history entry the
 *  back button undoes (a deliberate choice, not typing). */
function go(changes, { push = true } = {}) {
  view = { ...view, ...changes };
  writeParams(viewParams(view), { push });
  apply();
}

const queueBoard = new QueueBoard({
  store,
  root: $("queues-view"),
  queues,
  onQueue: (ext) => go({ view: "calls", queue: ext, agent: "", state: "", q: "" }),
});
const agentBoard = new AgentBoard({
  store,
  text,
  root: $("agents-view"),
  directory,
  queues,
  onAgent: (ext) => showAgentCall(ext),
});

function showAgentCall(ext) {
  go({ view: "calls", agent: ext, queue: "", state: "", q: "" });
  const call = [...store.calls.values()].find((c) => c.agent?.ext === ext && c.agent.id);
  if (call) {
    floor.select(call.id);
    floor.reveal(call.id);
  }
}

const alertsPanel = new AlertsPanel({
  store,
  text,
  root: $("alerts"),
  onFix(alert) {
    const fix = alert.fix || {};
    if (fix.action) {
      const call = store.get(fix.sessionId);
      if (call) floor.act(call, fix.action);
    } else if (fix.view === "queue") {
      go({ view: "calls", queue: fix.queue, state: "waiting", agent: "", q: "" });
    } else if (fix.view === "agent") {
      agentBoard.highlight = fix.ext;
      go({ view: "agents", q: text.directory[fix.ext]?.number || "", queue: "" });
    }
    if (alert.subject === "call" && store.get(alert.subjectId)) {
      floor.select(alert.subjectId);
      floor.reveal(alert.subjectId);
    }
  },
});

const header = new Header({
  store,
  floor,
  status: $("worker-status"),
  freshness: $("freshness"),
  count: $("call-count"),
  notice: $("notice"),
  stale: $("stale"),
  search: $("search"),
  layout: document.querySelector(".layout-switch"),
  onQuery(query) {
    go({ q: query }, { push: false });
  },
  onLayout(layout) {
    go({ layout });
  },
  onStale(stale) {
    floor.setStale(stale);
    alertsPanel.setStale(stale);
    detail.render();
  },
});

// --- filters ---------------------------------------------------------------

const filters = $("filters");
function options(select, entries) {
  for (const [value, label] of entries) select.add(new Option(label, value));
}
options(filters.elements.queue, queues.map((q) => [q.ext, q.name || q.number]));
// The agent menu is built when first opened: a floor has thousands of
// agents, and building it costs more than the rest of the page's start.
const agentMenu = filters.elements.agent;
const agentOptions = new Set([""]);
function agentOption(ext, label) {
  if (agentOptions.has(ext)) return;
  agentOptions.add(ext);
  agentMenu.add(new Option(label, ext));
}
let agentMenuBuilt = false;
function buildAgentMenu() {
  if (agentMenuBuilt) return;
  agentMenuBuilt = true;
  const chosen = agentMenu.value;
  directoryUsers(text.directory)
    .slice(0, 5000) // a menu of 10,000 names helps nobody: search finds the rest
    .forEach(({ ext }) => agentOption(ext, text.extensionLabel(ext)));
  agentMenu.value = chosen;
}
agentMenu.addEventListener("focus", buildAgentMenu);
agentMenu.addEventListener("pointerdown", buildAgentMenu);
options(filters.elements.state, Object.entries(STATES));
options(filters.elements.dir, DIRECTIONS.map((d) => [d, d]));
options(filters.elements.rec, Object.entries(RECORDING));
options(filters.elements.min, Object.entries(DURATIONS));
options(filters.elements.sort, Object.entries(SORTS));
options(filters.elements.group, Object.entries(GROUPS));
filters.addEventListener("change", (event) => {
  const { name, value } = event.target;
  go({ [name]: name === "min" ? Number(value) || 0 : value });
});
filters.querySelector(".clear-filters").addEventListener("click", () =>
  go({ queue: "", agent: "", state: "", dir: "", rec: "", min: 0 }),
);

// --- applying the view -----------------------------------------------------

const tabs = document.querySelectorAll(".tabs a");
for (const tab of tabs) {
  tab.addEventListener("click", (event) => {
    event.preventDefault();
    go({ view: tab.dataset.view });
  });
}

function apply() {
  for (const tab of tabs) {
    if (tab.dataset.view === view.view) tab.setAttribute("aria-current", "page");
    else tab.removeAttribute("aria-current");
  }
  const calls = view.view === "calls";
  filters.hidden = !calls;
  root.hidden = !calls;
  if (!calls) $("empty").hidden = true;
  for (const select of filters.elements) {
    if (select.name && select.name in view) {
      const value = String(view[select.name] || "");
      // An agent not in the menu (not built yet, or beyond it) still filters.
      if (select.name === "agent" && value) agentOption(value, text.extensionLabel(value));
      select.value = value || (select.name === "sort" ? "oldest" : "");
    }
  }
  filters.querySelector(".clear-filters").hidden = !filtering(view);
  $("search").placeholder = view.view === "agents" ? "Search agents: name or ext ( / )" : "Search: name, number, ext, queue ( / )";
  header.show({ query: view.q, layout: view.layout });
  floor.setLayout(view.layout);
  floor.setView(view);
  floor.setQuery(calls ? view.q : "");
  queueBoard.show(view.view === "queues");
  agentBoard.setFilter({ query: view.view === "agents" ? view.q : "", queue: view.queue });
  agentBoard.show(view.view === "agents");
  document.body.dataset.view = view.view;
}
apply();
onBack(() => {
  view = readView(new URLSearchParams(location.search));
  apply();
});

// --- keyboard ----------------------------------------------------------------

const theme = new Theme($("theme"));
const help = $("help");
help.querySelector("dl").replaceChildren(
  ...SHORTCUTS.flatMap(([key, what]) => {
    const dt = document.createElement("dt");
    dt.innerHTML = key
      .split(" / ")
      .map((k) => `<kbd>${k}</kbd>`)
      .join(" / ");
    const dd = document.createElement("dd");
    dd.textContent = what;
    return [dt, dd];
  }),
);
$("help-button").addEventListener("click", () => help.showModal());

addEventListener("keydown", (event) => {
  if (event.ctrlKey || event.metaKey || event.altKey) return;
  if (event.key === "Escape" && !typing(event) && floor.selected) {
    floor.select(null);
    return;
  }
  if (typing(event)) return;
  const key = event.key;
  if (key === "?") help.showModal();
  else if (key === "/") {
    event.preventDefault();
    $("search").focus();
  } else if (key === "j" || (key === "ArrowDown" && event.target === document.body)) floor.step(1);
  else if (key === "k" || (key === "ArrowUp" && event.target === document.body)) floor.step(-1);
  else if (key === "1" || key === "2" || key === "3") go({ view: ["calls", "queues", "agents"][Number(key) - 1] });
  else if (key === "d") theme.toggle();
  else if (key === "a") {
    const open = [...store.alerts.values()].filter((a) => !a.ackedBy).sort((a, b) => (a.since < b.since ? -1 : 1));
    if (open.length) store.acknowledge(open[0].id);
  } else if (key === "Enter" && !floor.selected) floor.step(0);
  else if (KEY_ACTIONS[key]) {
    const call = floor.selected && store.get(floor.selected);
    if (!call) return;
    const offered = new Set(text.offeredActions(call).map((a) => a.name));
    const name = KEY_ACTIONS[key].find((n) => offered.has(n));
    if (!name) return;
    event.preventDefault();
    if (name === "transfer") floor.openTransfer(call.id);
    else floor.act(call, name);
  } else return;
});

// --- the directory, read again now and then --------------------------------
// The page embeds the directory and the queues' members; the worker
// refreshes them from RingCentral on its own schedule (on a first run,
// seconds after the page may have loaded), so the page reads them again:
// soon when what it got looks unsynced, then every few minutes.

let directoryText = JSON.stringify([directory, queues]);
async function refreshDirectory() {
  try {
    const response = await fetch("/directory.json", { headers: { Accept: "application/json" } });
    if (!response.ok) return;
    const body = await response.json();
    const fresh = JSON.stringify([body.directory, body.queues]);
    if (fresh === directoryText) return;
    directoryText = fresh;
    text.directory = body.directory;
    queues.splice(0, queues.length, ...body.queues);
    agentBoard.setDirectory(body.directory, body.queues);
    floor.index.refreshTexts();
    floor.renderSoon();
    const known = new Set([...filters.elements.queue.options].map((o) => o.value));
    options(filters.elements.queue, body.queues.filter((q) => !known.has(q.ext)).map((q) => [q.ext, q.name || q.number]));
    if (queueBoard.shown) queueBoard.render();
  } catch {
    // Offline for a moment: the next round tries again.
  }
}
const unsynced = () => !Object.keys(text.directory).length || queues.some((q) => !q.members.length);
const DIRECTORY_EVERY = 5 * 60 * 1000;
setInterval(refreshDirectory, DIRECTORY_EVERY);
let early = 0;
const earlyTimer = setInterval(() => {
  early += 1;
  if (!unsynced() || early > 12) clearInterval(earlyTimer);
  else refreshDirectory();
}, 5000);

store.onAccess = ({ actions, acknowledge }) => {
  text.allow(actions, acknowledge);
  floor.refreshActions();
  alertsPanel.redraw();
  detail.render();
};
if (replay) replayBar($("replay"), store);
store.start();

// For the console in DevTools and for benchmarks: the store and the views.
window.switchboard = { store, floor, text, header };
