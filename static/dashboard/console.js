// Supervisor console: a snapshot plus ordered deltas from /ws/console/.
//
// Every delta carries `seq`. Deltas at or below the snapshot's seq are
// already in it (the consumer joins the group before the snapshot is
// taken); a jump past seq + 1 means something was lost, so ask for a new
// snapshot instead of guessing. `seq` counts within an `epoch` (one run of
// the worker): a new epoch means the worker restarted, so resync too.

const calls = new Map(); // telephonySessionId -> call
const pending = new Map(); // requestId -> {sessionId, action, partyId}
let lastSeq = null; // null until the first snapshot
let epoch = null; // the worker run the snapshot came from
let early = []; // deltas that arrived before the snapshot
let socket = null;
let retryDelay = 1000;
let snapshotTimer = null;
let clockOffset = 0; // server time - browser time (ms), for the timers
// A pending command that hears nothing at all for this long is released,
// so a lost reply never locks a call's buttons for good.
const COMMAND_DEADLINE_MS = 45000;

const section = document.getElementById("calls");
const template = document.getElementById("call-template");
const canControl = section.dataset.canControl === "true";
const workerStatus = document.getElementById("worker-status");
const callCount = document.getElementById("call-count");
const notice = document.getElementById("notice");
// {extensionId: {number, name}} from the extension directory, for labels.
const directory = JSON.parse(document.getElementById("directory")?.textContent || "{}");
// The action registry (telephony/actions.py): name, button label, pending
// label, the agent-leg statuses (and muted/recording state) it applies to.
const ACTIONS = JSON.parse(document.getElementById("actions").textContent);
const ACTION_BY_NAME = Object.fromEntries(ACTIONS.map((a) => [a.name, a]));

const STATE_LABELS = {
  setup: "Connecting",
  ringing: "Ringing",
  talking: "Talking",
  held: "On hold",
  parked: "Parked",
  voicemail: "Voicemail",
  ended: "Ended",
};

function connect() {
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  socket = new WebSocket(`${scheme}://${location.host}/ws/console/`);
  socket.addEventListener("open", () => {
    retryDelay = 1000;
    setStatus("unknown", "Waiting for the telephony worker…");
    armSnapshotTimer();
  });
  socket.addEventListener("message", (e) => onMessage(JSON.parse(e.data)));
  socket.addEventListener("close", () => {
    setStatus("down", "Disconnected from Switchboard; reconnecting…");
    // Replies to this socket are lost: nothing pending can resolve now.
    for (const id of [...pending.keys()]) {
      release(id, "Connection lost before Switchboard answered; check the call before retrying.");
    }
    lastSeq = null;
    early = [];
    clearTimeout(snapshotTimer);
    setTimeout(connect, retryDelay);
    retryDelay = Math.min(retryDelay * 2, 15000);
  });
}

function send(message) {
  if (socket && socket.readyState === WebSocket.OPEN) {
    socket.send(JSON.stringify(message));
    return true;
  }
  return false;
}

function armSnapshotTimer() {
  // No snapshot yet: the worker may be starting. Ask again every 5 s.
  clearTimeout(snapshotTimer);
  snapshotTimer = setTimeout(() => {
    if (lastSeq === null && send({ type: "resync" })) armSnapshotTimer();
  }, 5000);
}

function onMessage(msg) {
  switch (msg.type) {
    case "snapshot":
      return applySnapshot(msg);
    case "call_updated":
    case "call_ended":
      return applyDelta(msg);
    case "worker_status":
      if (epoch !== null && msg.epoch !== epoch) resync([]);
      return showWorker(msg.worker);
    case "command_result":
      return onCommandResult(msg);
    case "command_confirmed":
      return onCommandConfirmed(msg);
    case "error":
      return onError(msg);
  }
}

function applySnapshot(msg) {
  clearTimeout(snapshotTimer);
  calls.clear();
  for (const call of msg.calls) calls.set(call.id, call);
  lastSeq = msg.seq;
  epoch = msg.epoch;
  if (msg.serverTime) clockOffset = Date.parse(msg.serverTime) - Date.now();
  const buffered = early.filter((delta) => delta.epoch === epoch);
  early = [];
  for (const delta of buffered) applyDelta(delta);
  showWorker(msg.worker);
  renderAll();
  for (const request of [...pending.values()]) settleIfConfirmed(request.sessionId);
}

function applyDelta(msg) {
  if (lastSeq === null) {
    early.push(msg);
    return;
  }
  if (msg.epoch !== epoch) return resync([msg]); // the worker restarted
  if (msg.seq <= lastSeq) return; // already in the snapshot
  // A gap: something was dropped on the way. Start over from a snapshot.
  if (msg.seq > lastSeq + 1) return resync([msg]);
  lastSeq = msg.seq;
  if (msg.type === "call_ended") {
    calls.delete(msg.call.id);
  } else {
    calls.set(msg.call.id, msg.call);
  }
  // A delta may be the telephony event that confirms a pending command.
  settleIfConfirmed(msg.call.id);
}

function resync(buffered) {
  // Keep what arrived meanwhile; the new snapshot decides what applies.
  lastSeq = null;
  early = buffered;
  send({ type: "resync" });
  armSnapshotTimer();
}

function showWorker(worker) {
  if (!worker) return;
  if (worker.error) setStatus("down", worker.error);
  else if (worker.connected) setStatus("up", "Live");
  else setStatus("unknown", "Telephony worker reconnecting…");
}

function setStatus(kind, text) {
  workerStatus.className = `status status-${kind}`;
  workerStatus.textContent = text;
}

function showNotice(text) {
  notice.textContent = text;
  notice.hidden = false;
  clearTimeout(showNotice.timer);
  showNotice.timer = setTimeout(() => (notice.hidden = true), 8000);
}

// --- rendering ------------------------------------------------------------

function renderAll() {
  for (const el of section.querySelectorAll("article.call")) {
    if (!calls.has(el.dataset.sessionId)) el.remove();
  }
  for (const id of calls.keys()) render(id);
}

function cardFor(id) {
  return section.querySelector(`article.call[data-session-id="${CSS.escape(id)}"]`);
}

function render(id) {
  const call = calls.get(id);
  let card = cardFor(id);
  if (!call) {
    if (card) card.remove();
    updateCount();
    return;
  }
  if (!card) {
    card = template.content.firstElementChild.cloneNode(true);
    card.dataset.sessionId = id;
    insertSorted(card, call);
  }
  fillCard(card, call);
  updateCount();
}

function insertSorted(card, call) {
  // Oldest call first, so cards do not jump around as new calls arrive.
  for (const other of section.querySelectorAll("article.call")) {
    const otherCall = calls.get(other.dataset.sessionId);
    if (otherCall && otherCall.startedAt > call.startedAt) {
      section.insertBefore(card, other);
      return;
    }
  }
  section.appendChild(card);
}

function updateCount() {
  const n = calls.size;
  callCount.textContent = `${n} live call${n === 1 ? "" : "s"}`;
  section.querySelector(".empty").hidden = n > 0;
}

function partyById(call, id) {
  return call.parties.find((p) => p.id === id) || null;
}

function label(endpoint) {
  if (!endpoint) return "";
  const name = endpoint.name || "";
  const number = endpoint.phoneNumber || "";
  return name && number ? `${name} (${number})` : name || number;
}

function fillCard(card, call) {
  const agent = partyById(call, call.agentPartyId);
  const customer = partyById(call, call.customerPartyId);
  const commandPending = [...pending.values()].find((p) => p.sessionId === call.id);
  card.dataset.state = call.state;
  card.classList.toggle("pending", Boolean(commandPending));
  const stateLabel = STATE_LABELS[call.state] || call.state;
  card.querySelector(".state").textContent = commandPending
    ? `${stateLabel} · ${ACTION_BY_NAME[commandPending.action]?.pending || "working…"}`
    : stateLabel;
  card.querySelector(".flags").textContent = flagsOf(agent);
  const since = agent ? agent.since : call.updatedAt;
  card.querySelector(".timer").dataset.since = since || call.startedAt;
  card.querySelector(".direction").textContent = call.direction || "";
  card.querySelector(".agent").textContent = agent ? `Agent: ${agentLabel(agent)}` : "Agent: —";
  card.querySelector(".customer").textContent = customer
    ? `Customer: ${label(customerEndpoint(customer))}`
    : "";
  fillParties(card.querySelector(".parties"), call);
  fillActions(card.querySelector(".actions"), call, agent, commandPending);
  tick(card.querySelector(".timer"));
}

function flagsOf(agent) {
  if (!agent) return "";
  const flags = [];
  const recording = (agent.recordings || [])[0];
  if (recording) flags.push(recording.active ? "● Recording" : "Recording paused");
  if (agent.muted) flags.push("Muted");
  return flags.join(" · ");
}

function agentLabel(party) {
  // The agent is whichever side of its own leg carries its extension; the
  // directory knows its extension number (the leg often shows the company's).
  const side = party.direction === "Inbound" ? party.to : party.from;
  const entry = directory[party.extensionId];
  if (entry) return `${side.name || entry.name} (ext ${entry.number})`;
  return label(side);
}

function customerEndpoint(party) {
  // An external party's own number is on the side it originates from.
  return party.direction === "Outbound" ? party.from : party.to;
}

function fillParties(list, call) {
  list.replaceChildren(
    ...call.parties.map((p) => {
      const li = document.createElement("li");
      li.dataset.partyId = p.id;
      li.dataset.status = p.status;
      const own = p.direction === "Inbound" ? p.to : p.from;
      const flags = [p.muted ? "muted" : "", p.reason || ""].filter(Boolean).join(", ");
      li.textContent = `${label(own) || p.id} — ${p.status}${flags ? ` (${flags})` : ""}`;
      return li;
    }),
  );
}

function button(text, onClick, disabled) {
  const b = document.createElement("button");
  b.type = "button";
  b.textContent = text;
  b.disabled = disabled;
  b.addEventListener("click", onClick);
  return b;
}

function recordingState(agent) {
  const recording = (agent.recordings || [])[0];
  if (!recording) return ["none", null];
  return [recording.active ? "active" : "paused", recording.id];
}

function offered(action, agent) {
  // Whether the registry offers `action` on the agent's leg as it is now.
  if (!action.statuses.includes(agent.status)) return false;
  if (action.muted !== null && Boolean(agent.muted) !== action.muted) return false;
  return action.recording === null || recordingState(agent)[0] === action.recording;
}

function fillActions(box, call, agent, commandPending) {
  box.replaceChildren();
  if (!canControl || !agent) return;
  const busy = Boolean(commandPending);
  for (const action of ACTIONS) {
    if (!offered(action, agent)) continue;
    let onClick;
    if (action.name === "transfer") onClick = () => askTransfer(call, agent);
    else if (action.params.includes("recordingId")) {
      const params = { recordingId: recordingState(agent)[1] };
      onClick = () => command(call.id, agent.id, action.name, params);
    } else onClick = () => command(call.id, agent.id, action.name);
    const b = button(action.label, onClick, busy);
    if (action.name === "end") b.classList.add("danger");
    box.appendChild(b);
  }
}

function askTransfer(call, agent) {
  // A small inline form: an extension number, or +E.164 for an outside number.
  const card = cardFor(call.id);
  if (!card || card.querySelector("form.transfer")) return;
  const form = document.createElement("form");
  form.className = "transfer";
  const input = document.createElement("input");
  input.name = "target";
  input.placeholder = "Extension or +number";
  input.setAttribute("aria-label", "Transfer to");
  input.required = true;
  const go = document.createElement("button");
  go.type = "submit";
  go.textContent = "Transfer now";
  form.append(input, go);
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    const target = input.value.trim();
    const params = target.startsWith("+") ? { phoneNumber: target } : { extensionNumber: target };
    form.remove();
    command(call.id, agent.id, "transfer", params);
  });
  card.querySelector(".actions").after(form);
  input.focus();
}

// --- commands ---------------------------------------------------------------

function newRequestId() {
  // crypto.randomUUID needs a secure context (HTTPS or localhost).
  if (crypto.randomUUID) return crypto.randomUUID();
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

function release(requestId, text) {
  const request = pending.get(requestId);
  if (!request) return;
  clearTimeout(request.deadline);
  pending.delete(requestId);
  if (text) setCallError(request.sessionId, text);
  render(request.sessionId);
}

function onError(msg) {
  if (msg.requestId && pending.has(msg.requestId)) release(msg.requestId, msg.message);
  else showNotice(msg.message);
}

function command(sessionId, partyId, action, params) {
  const requestId = newRequestId();
  const message = { type: "command", requestId, action, sessionId, partyId };
  if (params) message.params = params;
  if (!send(message)) {
    showNotice("Not connected to Switchboard; try again in a moment.");
    return;
  }
  const deadline = setTimeout(
    () => release(requestId, "No confirmation arrived; check the call before retrying."),
    COMMAND_DEADLINE_MS,
  );
  pending.set(requestId, { sessionId, partyId, action, deadline });
  setCallError(sessionId, "");
  render(sessionId);
}

function onCommandResult(msg) {
  // Accepted: stay pending until the worker confirms the telephony event.
  if (!msg.ok) release(msg.requestId, msg.message);
}

function onCommandConfirmed(msg) {
  release(msg.requestId, msg.confirmed ? "" : msg.message);
}

function settleIfConfirmed(sessionId) {
  // An ended call settles whatever was pending on it.
  if (!calls.has(sessionId)) {
    for (const [id, request] of [...pending]) {
      if (request.sessionId === sessionId) {
        clearTimeout(request.deadline);
        pending.delete(id);
      }
    }
  }
  render(sessionId);
}

function setCallError(sessionId, text) {
  const card = cardFor(sessionId);
  if (!card) {
    if (text) showNotice(text);
    return;
  }
  const p = card.querySelector(".call-error");
  p.textContent = text;
  p.hidden = !text;
}

// --- timers ----------------------------------------------------------------

function tick(el) {
  const since = Date.parse(el.dataset.since);
  if (Number.isNaN(since)) {
    el.textContent = "";
    return;
  }
  const s = Math.max(0, Math.floor((Date.now() + clockOffset - since) / 1000));
  const h = Math.floor(s / 3600);
  const mm = String(Math.floor((s % 3600) / 60)).padStart(2, "0");
  const ss = String(s % 60).padStart(2, "0");
  el.textContent = h ? `${h}:${mm}:${ss}` : `${mm}:${ss}`;
}

setInterval(() => section.querySelectorAll(".timer").forEach(tick), 1000);

connect();
