// The queue view and the agent board: the floor seen by call queue (who is
// waiting, for how long, today's service) and by agent (presence, call,
// time in state, queues). Both are computed from the live store (calls,
// presence, today's figures) and the directory; they redraw at most once a
// second while shown. The agent board is virtualised: a floor has
// thousands of agents.

import { formatDuration, parseTime } from "./calls.js";
import { isWaiting, queueOf } from "./filters.js";

export const PRESENCE_LABELS = {
  available: "Available",
  away: "Away",
  dnd: "Do not disturb",
  offline: "Offline",
  unknown: "Not known yet", // no presence from RingCentral yet
};
const PRESENCE_ICONS = { available: "●", away: "◐", dnd: "⊘", offline: "○", unknown: "?" };
export const AGENT_CALL_LABELS = {
  idle: "Idle",
  ringing: "Ringing",
  talking: "Talking",
  held: "On hold",
};
const CALL_RANK = { ringing: 1, talking: 2, held: 3 };

/** An agent's call state from their call legs: the busiest leg wins. */
export function agentCalls(calls) {
  const by = new Map(); // extension id -> {state, since, callId}
  for (const call of calls.values()) {
    const leg = call.agent;
    if (!leg?.ext || !leg.id) continue;
    const state =
      leg.status === "Hold"
        ? "held"
        : leg.status === "Answered"
          ? "talking"
          : leg.status === "Proceeding" || leg.status === "Setup"
            ? "ringing"
            : null;
    if (!state) continue;
    const had = by.get(leg.ext);
    if (!had || CALL_RANK[state] > CALL_RANK[had.state]) {
      by.set(leg.ext, { state, since: leg.since || call.start, callId: call.id });
    }
  }
  return by;
}

/** The queues' live figures: waiting now and the longest wait (ms). */
export function queueWaits(calls, now) {
  const by = new Map(); // queue ext -> {waiting, longest}
  for (const call of calls.values()) {
    if (!isWaiting(call)) continue;
    const ext = queueOf(call);
    const wait = now - parseTime(call.start);
    const had = by.get(ext) || { waiting: 0, longest: 0 };
    had.waiting += 1;
    if (wait > had.longest) had.longest = wait;
    by.set(ext, had);
  }
  return by;
}

/** Agents of a queue by what they can do now: available (present, not on a
 *  call), busy (on a call), away (away, DND, offline, or not known yet). */
export function queueAgents(members, agents, busy) {
  const counts = { available: 0, busy: 0, away: 0 };
  for (const ext of members) {
    const presence = agents.get(ext)?.state || "offline";
    if (busy.has(ext)) counts.busy += 1;
    else if (presence === "available") counts.available += 1;
    else counts.away += 1;
  }
  return counts;
}

/** The directory's users (agents) by name, then extension number:
 *  [{ext, name, number}]. A Collator: localeCompare over 10,000 names
 *  was a long task at page start. */
export function directoryUsers(directory) {
  const byName = new Intl.Collator("en").compare;
  return Object.entries(directory)
    .filter(([, e]) => e.type === "User")
    .map(([ext, e]) => ({ ext, name: e.name || "", number: e.number || "" }))
    .sort((a, b) => byName(a.name, b.name) || byName(a.number, b.number));
}

const percent = (n, d) => (d ? `${Math.round((100 * n) / d)} %` : "—");
const seconds = (s) => (s === null || s === undefined ? "—" : formatDuration(s * 1000));

export class QueueBoard {
  constructor({ store, root, queues, onQueue }) {
    Object.assign(this, { store, root, queues, onQueue });
    this.body = root.querySelector("tbody");
    this.shown = false;
    this.alerting = new Set();
    store.subscribe((change) => {
      if (this.shown && (change.all || change.ids.size || change.kinds.size)) this._dirty = true;
    });
    this.body.addEventListener("click", (event) => {
      const a = event.target.closest("a[data-queue]");
      if (!a) return;
      event.preventDefault();
      this.onQueue(a.dataset.queue);
    });
    setInterval(() => this.shown && this.render(), 1000);
  }

  show(shown) {
    this.shown = shown;
    this.root.hidden = !shown;
    if (shown) this.render();
  }

  render() {
    this._dirty = false;
    const now = this.store.serverNow();
    const waits = queueWaits(this.store.calls, now);
    const busy = agentCalls(this.store.calls);
    const alerted = new Set();
    for (const alert of this.store.alerts.values()) if (alert.queue) alerted.add(alert.queue);
    this.root.querySelector(".board-empty").hidden = this.queues.length > 0;
    const rows = this.queues.map((queue) => {
      const live = waits.get(queue.ext) || { waiting: 0, longest: 0 };
      const team = queueAgents(queue.members, this.store.agents, busy);
      const today = this.store.queues.get(queue.ext);
      const level = today ? percent(today.withinSl, today.offered) : "—";
      const low = today && today.offered && (100 * today.withinSl) / today.offered < today.slTarget;
      return [
        queue.ext,
        alerted.has(queue.ext),
        today,
        [
          queue.name || `Queue ${queue.number}`,
          String(live.waiting),
          live.waiting ? formatDuration(live.longest) : "—",
          String(team.available),
          String(team.busy),
          String(team.away),
          today ? String(today.offered) : "0",
          today ? String(today.answered) : "0",
          today ? String(today.abandoned) : "0",
          today ? `${level}${low ? " ⚠ below" : ""}` : "—",
          today ? seconds(today.avgWait) : "—",
          today ? seconds(today.avgHandle) : "—",
        ],
      ];
    });
    // Rewrite only cells whose text changed (the view redraws each second).
    while (this.body.rows.length > rows.length) this.body.deleteRow(-1);
    rows.forEach(([ext, alert, today, cells], i) => {
      let tr = this.body.rows[i];
      if (!tr) {
        tr = this.body.insertRow();
        tr.innerHTML = `<th scope="row"><a href="#"></a></th>${"<td></td>".repeat(cells.length - 1)}`;
      }
      tr.dataset.queue = ext;
      tr.classList.toggle("alerted", alert);
      const a = tr.cells[0].firstElementChild;
      a.dataset.queue = ext;
      a.setAttribute("aria-description", "Show this queue's calls");
      cells.forEach((text, k) => {
        const el = k ? tr.cells[k] : a;
        if (el.textContent !== text) el.textContent = text;
      });
      const target = today ? `Target: ${today.slTarget} % answered within ${today.slSeconds} s` : "";
      if (tr.cells[9].title !== target) tr.cells[9].title = target;
    });
  }
}

const AGENT_ROW = 32;
const AGENT_OVERSCAN = 8;

export class AgentBoard {
  /**
   * @param {object} o
   * @param {object} o.directory  {extensionId: {number, name, type}}
   * @param {object[]} o.queues  [{ext, name, members}]
   * @param {(ext) => void} o.onAgent  show this agent's call
   */
  constructor({ store, text, root, directory, queues, onAgent }) {
    Object.assign(this, { store, text, root, onAgent });
    this.scroll = root.querySelector(".agents-scroll");
    this.body = root.querySelector(".agents-body");
    this.shown = false;
    this.query = "";
    this.queue = "";
    this.highlight = "";
    this.setDirectory(directory, queues);
    this.scroll.addEventListener("scroll", () => this.shown && this.render(), { passive: true });
    this.body.addEventListener("click", (event) => {
      const row = event.target.closest("[data-ext]");
      if (row && event.target.closest("button")) this.onAgent(row.dataset.ext);
    });
    store.subscribe((change) => {
      if (this.shown && (change.all || change.kinds.has("agents") || change.kinds.has("alerts"))) this.render();
    });
    setInterval(() => this.shown && this.render(), 1000);
  }

  show(shown) {
    this.shown = shown;
    this.root.hidden = !shown;
    if (shown) {
      this._build();
      this.render();
    }
  }

  /** Every agent (the directory's users) and their queues; built when
   *  the board is first shown (thousands of agents: not at page start). */
  setDirectory(directory, queues) {
    this._source = { directory, queues };
    this._built = false;
    if (this.shown) this._build();
  }

  _build() {
    if (this._built) return;
    this._built = true;
    const { directory, queues } = this._source;
    this.agents = directoryUsers(directory);
    this.queuesOf = new Map(); // agent ext -> [queue name]
    this.members = new Map(); // queue ext -> Set(agent ext)
    for (const q of queues) {
      this.members.set(q.ext, new Set(q.members));
      for (const ext of q.members) {
        if (!this.queuesOf.has(ext)) this.queuesOf.set(ext, []);
        this.queuesOf.get(ext).push(q.name);
      }
    }
    const filter = { query: this.query, queue: this.queue };
    this.query = null; // refilter
    this.setFilter(filter);
  }

  /** Narrow the board by a search and a queue. */
  setFilter({ query = "", queue = "" }) {
    const q = (query || "").trim().toLowerCase();
    if (!this._built) {
      // Applied when the board is built.
      this.query = q;
      this.queue = queue;
      return;
    }
    if (q === this.query && queue === this.queue) return;
    this.query = q;
    this.queue = queue;
    const members = queue ? this.members.get(queue) || new Set() : null;
    this._list = this.agents.filter(
      (a) =>
        (!members || members.has(a.ext)) &&
        (!q || a.name.toLowerCase().includes(q) || a.number.includes(q)),
    );
    this.scroll.scrollTop = 0;
    if (this.shown) this.render();
  }

  render() {
    const list = this._list;
    const calls = agentCalls(this.store.calls);
    // Agents an alert is about (DND too long): marked, in words too.
    this._alerted = new Map();
    for (const alert of this.store.alerts.values()) {
      if (alert.subject === "agent") this._alerted.set(alert.subjectId, alert);
    }
    const now = this.store.serverNow();
    this.body.style.height = `${list.length * AGENT_ROW}px`;
    this.scroll.setAttribute("aria-rowcount", String(list.length));
    const top = this.scroll.scrollTop;
    const first = Math.max(0, Math.floor(top / AGENT_ROW) - AGENT_OVERSCAN);
    const last = Math.min(list.length, Math.ceil((top + this.scroll.clientHeight) / AGENT_ROW) + AGENT_OVERSCAN);
    const rows = [];
    for (let i = first; i < last; i++) rows.push(this._row(list[i], i, calls.get(list[i].ext), now));
    this.body.replaceChildren(...rows);
  }

  _row(agent, i, call, now) {
    const presence = this.store.agents.get(agent.ext);
    const state = presence?.state || "unknown";
    const callState = call?.state || "idle";
    const since = parseTime(call ? call.since : presence?.since);
    const row = document.createElement("div");
    row.className = "agent-row";
    row.setAttribute("role", "row");
    row.setAttribute("aria-rowindex", String(i + 1));
    row.dataset.ext = agent.ext;
    row.dataset.presence = state;
    row.dataset.call = callState;
    row.style.transform = `translateY(${i * AGENT_ROW}px)`;
    const cells = [
      `${agent.name || "Extension"} (ext ${agent.number})`,
      `${PRESENCE_ICONS[state]} ${PRESENCE_LABELS[state] || state}`,
      AGENT_CALL_LABELS[callState],
      Number.isNaN(since) ? "—" : formatDuration(now - since),
      (this.queuesOf.get(agent.ext) || []).join(", ") || "—",
    ];
    cells.forEach((text, k) => {
      const cell = document.createElement("span");
      cell.setAttribute("role", k ? "cell" : "rowheader");
      cell.className = `a-${["name", "presence", "call", "time", "queues"][k]}`;
      if (k === 2 && call) {
        const b = document.createElement("button");
        b.type = "button";
        b.textContent = text;
        b.setAttribute("aria-description", `Show the call of ${cells[0]}`);
        cell.append(b);
      } else {
        cell.textContent = text;
      }
      row.append(cell);
    });
    if (agent.ext === this.highlight) row.classList.add("highlight");
    if (this._alerted.has(agent.ext)) {
      row.classList.add("alerted");
      row.children[1].append(" · ⚠ too long");
    }
    return row;
  }
}

