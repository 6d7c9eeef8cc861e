// The side panel: the alert list every supervisor shares (acknowledge, and
// the button that fixes each alert) and the call open on this console (all
// its legs, who else is on it, its actions). Both read the live store and
// redraw what changed; the texts they show are pure functions below.

import { formatDuration, parseTime, stateLabel, timerText } from "./calls.js";

export const ALERT_LABELS = {
  long_ring: "Long ring",
  long_wait: "Long wait in queue",
  long_hold: "Long hold",
  long_talk: "Long talk",
  service_level: "Service level under target",
  dnd_too_long: "DND too long",
};

const FIX_LABELS = { unhold: "Unhold", listen: "Listen" };

/** A call action's button, named by the registry's label ("Hold"); End
 *  stands apart as the dangerous one. The floor and the open call share it. */
export function actionButton(action) {
  const b = document.createElement("button");
  b.type = "button";
  b.textContent = action.label;
  b.dataset.action = action.name;
  if (action.name === "end") b.className = "danger";
  return b;
}
const MAX_SHOWN = 100;

/** "Vera Costa (ext 2582) with MUELLER KLAUS (+14155555265)": which call
 *  a button acts on, for its accessible description. */
export function callContext(call, text) {
  const agent = text.agentLabel(call);
  const customer = text.customerLabel(call);
  const state = stateLabel(call);
  const who = agent && customer ? `${agent} with ${customer}` : agent || customer || "this call";
  return `${who}, ${state.toLowerCase()}`;
}

/** The other supervisors on a call, as text: "bob, carol (holding…)";
 *  "" when nobody but me. */
export function othersOn(attention, me, text) {
  if (!attention) return "";
  const pending = new Map();
  for (const p of attention.pending || []) {
    if (p.user !== me) pending.set(p.user, text.pendingLabel(p.action));
  }
  const names = new Set((attention.viewers || []).filter((u) => u !== me));
  for (const user of pending.keys()) names.add(user);
  return [...names]
    .sort()
    .map((user) => (pending.has(user) ? `${user} (${pending.get(user)})` : user))
    .join(", ");
}

/** What an alert is about, in words. */
export function alertSubject(alert, store, text) {
  if (alert.subject === "call") {
    const call = store.get(alert.subjectId);
    if (!call) return "A call that has ended";
    if (alert.kind === "long_wait") {
      // Who waits, and where: the agents ringing are not the point.
      return [text.queueLabel(call), text.customerLabel(call)].filter(Boolean).join(" · ") || "A caller";
    }
    return text.agentLabel(call) || text.customerLabel(call) || text.queueLabel(call) || "A call";
  }
  if (alert.subject === "queue") return text.queueName(alert.subjectId);
  return text.extensionLabel(alert.subjectId);
}

/** "over 2:00" / "under 80 %" */
export function alertLimit(alert) {
  if (alert.kind === "service_level") return `under ${alert.threshold} %`;
  return `over ${formatDuration(alert.threshold * 1000)}`;
}

const clock = new Intl.DateTimeFormat("en-GB", { hour: "2-digit", minute: "2-digit", second: "2-digit" });

/** "13:45:02" for ISO text or ms. */
export function clockText(at) {
  const ms = typeof at === "number" ? at : parseTime(at);
  return Number.isNaN(ms) || !ms ? "" : clock.format(new Date(ms));
}

export class AlertsPanel {
  /**
   * @param {object} o
   * @param {HTMLElement} o.root  the alert list's section
   * @param {(alert) => void} o.onFix  run the alert's fix
   */
  constructor({ store, text, root, onFix }) {
    Object.assign(this, { store, text, root, onFix });
    this.list = root.querySelector("ol");
    this.count = root.querySelector(".alert-count");
    this.more = root.querySelector(".alerts-more");
    this.stale = false;
    this._items = new Map(); // alert id -> <li>
    // Redrawn when the alerts change (not on every call update: a big
    // floor's calls change ten times a second); ages tick on their own.
    store.subscribe((change) => {
      if (change.kinds.has("alerts") || change.all) this.render();
    });
    root.addEventListener("click", (event) => {
      const button = event.target.closest("button[data-alert]");
      const alert = button && this.store.alerts.get(button.dataset.alert);
      if (!alert) return;
      if (button.dataset.do === "ack") this.store.acknowledge(alert.id);
      else this.onFix(alert);
    });
    setInterval(() => this._tick(), 1000);
  }

  /** The alerts, oldest first, unacknowledged before acknowledged. */
  sorted() {
    return [...this.store.alerts.values()].sort(
      (a, b) => Boolean(a.ackedBy) - Boolean(b.ackedBy) || (a.since < b.since ? -1 : a.since > b.since ? 1 : 0),
    );
  }

  render() {
    const alerts = this.sorted();
    const open = alerts.filter((a) => !a.ackedBy).length;
    this.count.textContent = alerts.length ? `${open} open · ${alerts.length - open} acknowledged` : "none";
    this.root.classList.toggle("has-open", open > 0);
    // The oldest open ones first, at most MAX_SHOWN in the list (a floor in
    // trouble raises hundreds: the count says how many there are).
    const shown = alerts.slice(0, MAX_SHOWN);
    const items = shown.map((alert) => this._item(alert));
    const keep = new Set(shown.map((a) => a.id));
    for (const [id, li] of this._items) {
      if (!keep.has(id)) {
        this._items.delete(id);
        li.remove();
      }
    }
    this.more.textContent = alerts.length > MAX_SHOWN ? `and ${alerts.length - MAX_SHOWN} more` : "";
    // Keep the order without rebuilding: move only what is out of place.
    let next = this.list.firstElementChild;
    for (const li of items) {
      if (li === next) next = next.nextElementSibling;
      else this.list.insertBefore(li, next);
    }
    this.root.querySelector(".alerts-empty").hidden = alerts.length > 0;
  }

  setStale(stale) {
    this.stale = stale;
    this.redraw();
  }

  /** Draw every alert again (the page went stale, or the supervisor's
   *  permissions changed). */
  redraw() {
    for (const li of this._items.values()) li._key = "";
    this.render();
  }

  _item(alert) {
    let li = this._items.get(alert.id);
    if (!li) {
      li = document.createElement("li");
      li.className = "alert";
      li.dataset.alertId = alert.id;
      li.innerHTML =
        '<span class="alert-kind"><span aria-hidden="true">⚠</span> <strong></strong></span>' +
        '<span class="alert-subject"></span> <span class="alert-age"></span>' +
        '<span class="alert-ack"></span><span class="alert-buttons"></span>';
      this._items.set(alert.id, li);
    }
    const subject = alertSubject(alert, this.store, this.text);
    const key = [alert.kind, subject, alert.ackedBy, alert.ackedAt, this.stale].join("|");
    if (li._key !== key) {
      li._key = key;
      li._alert = alert;
      li.classList.toggle("acked", Boolean(alert.ackedBy));
      li.querySelector("strong").textContent = ALERT_LABELS[alert.kind] || alert.kind;
      li.querySelector(".alert-subject").textContent = subject;
      li.querySelector(".alert-ack").textContent = alert.ackedBy
        ? `Acknowledged by ${alert.ackedBy} at ${clockText(alert.ackedAt)}`
        : "";
      const buttons = [];
      const context = `${ALERT_LABELS[alert.kind]}: ${subject}`;
      const fix = alert.fix;
      if (fix?.action && this.text.allowed.has(fix.action)) {
        buttons.push(button(FIX_LABELS[fix.action] || this.text.actionByName[fix.action].label, alert, "fix", context));
      } else if (fix?.view === "queue") {
        buttons.push(button("Show queue calls", alert, "fix", context));
      } else if (fix?.view === "agent") {
        buttons.push(button("Show agent", alert, "fix", context));
      }
      if (!alert.ackedBy && this.text.mayAcknowledge) buttons.push(button("Acknowledge", alert, "ack", context));
      for (const b of buttons) b.disabled = this.stale && b.dataset.do !== "fix-view";
      li.querySelector(".alert-buttons").replaceChildren(...buttons);
    }
    li._alert = alert;
    this._age(li);
    return li;
  }

  _age(li) {
    const alert = li._alert;
    const since = parseTime(alert.since);
    let text;
    if (alert.kind === "service_level") {
      const today = this.store.queues.get(alert.subjectId);
      const level = today?.offered ? Math.round((100 * today.withinSl) / today.offered) : null;
      text = level === null ? alertLimit(alert) : `${level} % today, target ${alert.threshold} %`;
    } else {
      text = `${formatDuration(this.store.serverNow() - since)} (${alertLimit(alert)})`;
    }
    if (li._age !== text) {
      li._age = text;
      li.querySelector(".alert-age").textContent = text;
    }
  }

  _tick() {
    if (this.stale) return;
    for (const li of this._items.values()) this._age(li);
  }
}

function button(label, alert, what, context) {
  const b = document.createElement("button");
  b.type = "button";
  b.textContent = label;
  b.dataset.alert = alert.id;
  b.dataset.do = what === "fix" && !alert.fix?.action ? "fix-view" : what;
  b.setAttribute("aria-description", context);
  return b;
}

/** The call open on this console: every leg, who else is on it, actions. */
export class DetailPanel {
  constructor({ store, text, root, floor, me }) {
    Object.assign(this, { store, text, root, floor, me });
    this.id = null;
    this.title = root.querySelector(".detail-title");
    this.body = root.querySelector(".detail-body");
    this.legs = root.querySelector(".detail-legs");
    this.seen = root.querySelector(".detail-seen");
    this.actions = root.querySelector(".detail-actions");
    this.timer = root.querySelector(".detail-timer");
    root.querySelector(".detail-close").addEventListener("click", () => floor.select(null));
    this.actions.addEventListener("click", (event) => {
      const b = event.target.closest("button[data-action]");
      const call = b && this.store.get(this.id);
      if (!call) return;
      if (b.dataset.action === "transfer") floor.openTransfer(call.id);
      else floor.act(call, b.dataset.action);
    });
    store.subscribe((change) => {
      if (this.id && (change.all || change.ids.has(this.id) || change.status)) this.render();
    });
    setInterval(() => this._tick(), 1000);
  }

  show(id) {
    this.id = id;
    this.store.view(id);
    this.root.hidden = !id;
    this._key = null;
    this.render();
  }

  render() {
    if (!this.id) return;
    const call = this.store.get(this.id);
    if (!call) {
      // Nobody is on an ended call: stop telling the server we are.
      this.store.view(null);
      this.title.textContent = "This call has ended.";
      this.legs.replaceChildren();
      this.actions.replaceChildren();
      this.seen.textContent = "";
      this.timer.textContent = "";
      return;
    }
    const pending = this.store.pendingFor(call.id);
    const others = othersOn(this.store.attention.get(call.id), this.me, this.text);
    const stale = this.floor.stale;
    const key = [call, pending?.action, others, stale, this.store.errorFor(call.id)];
    if (this._key && key.every((v, i) => v === this._key[i])) return;
    this._key = key;
    this.title.textContent = `${stateLabel(call)} · ${call.dir || ""}`;
    const legs = [];
    const line = (role, party) => {
      const li = document.createElement("li");
      const b = document.createElement("span");
      b.className = "leg-role";
      b.textContent = role;
      li.append(b, ` ${this.text.partyLine(party, this.me)}`);
      legs.push(li);
    };
    if (call.agent?.id) line("Agent", call.agent);
    if (call.customer) {
      if (call.customer.id) line(this.text.customerRole(call), call.customer);
      else line(this.text.customerRole(call), { ...call.customer, id: "", status: "—" });
    }
    for (const p of call.others || []) line(ROLE_LABELS[p.role] || "Other leg", p);
    if (call.left) {
      const li = document.createElement("li");
      li.className = "legs-left";
      li.textContent = `${call.left} ${call.left === 1 ? "leg" : "legs"} left the call`;
      legs.push(li);
    }
    this.legs.replaceChildren(...legs);
    const queue = this.text.queueLabel(call);
    this.body.textContent = queue ? `Queue: ${queue}` : "";
    this.seen.textContent = others ? `Also on this call: ${others}` : "No other supervisor is on this call.";
    const offered = this.text.offeredActions(call);
    const context = callContext(call, this.text);
    this.actions.replaceChildren(
      ...offered.map((action) => {
        const b = actionButton(action);
        b.setAttribute("aria-description", context);
        b.disabled = Boolean(pending) || stale;
        return b;
      }),
    );
    this._tick();
  }

  _tick() {
    const call = this.id && this.store.get(this.id);
    if (!call) return;
    const text = `in this state for ${timerText(call, this.floor._now())}`;
    if (this.timer.textContent !== text) this.timer.textContent = text;
  }
}

export const ROLE_LABELS = {
  monitor: "Supervisor listening",
  queue: "Queue",
  other: "Other leg",
};
