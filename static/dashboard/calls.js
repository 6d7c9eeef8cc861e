// What a call means to a supervisor, as text: labels, names from the
// extension directory, flags, timers, which actions apply, and the text a
// search looks in. Pure functions of a call's wire form (see
// dashboard/protocol.py `call_wire`); no DOM, so every view (and Node's
// tests) can share them.

export const STATE_LABELS = {
  setup: "Connecting",
  ringing: "Ringing",
  talking: "Talking",
  held: "On hold",
  parked: "Parked",
  voicemail: "Voicemail",
};

export const DIRECTION_ARROWS = { Inbound: "↙", Outbound: "↗", Internal: "⇄" };

/** A queue call no agent has answered and no agent leg holds: the
 *  caller waits in the queue (RingCentral shows their leg as Answered, by
 *  the queue, so the call's state alone says "talking"). */
export function inQueue(call) {
  return Boolean(call.queue) && !call.answered && !call.agent?.id;
}

/** The state a supervisor sees: the call's, or "queued" while in queue. */
export function displayState(call) {
  return inQueue(call) && call.state === "talking" ? "queued" : call.state;
}

// Right-to-left letters and bidirectional controls: a caller id holding a
// right-to-left override would reverse the rest of its line (the number
// included) unless it is isolated.
const BIDI = /[\u0590-\u08ff\u200e\u200f\u202a-\u202e\u2066-\u2069\u061c\ufb1d-\ufefc]/;

/** A name as its own bidirectional island (FSI … PDI) when it holds
 *  right-to-left text or bidi controls; other names as they are. */
export function isolate(name) {
  return name && BIDI.test(name) ? `\u2068${name}\u2069` : name;
}

export function stateLabel(call) {
  if (displayState(call) === "queued") return "In queue";
  return STATE_LABELS[call.state] || call.state || "";
}

/**
 * Names and numbers with the extension directory ({extensionId: {number,
 * name}}) and the action registry (telephony/actions.py page_registry);
 * `allowed`: the names of the actions this supervisor may take (the
 * server's word: the page, then the socket's "access" frames), or null for
 * all of them.
 */
export class CallText {
  constructor({ directory = {}, actions = [], allowed = null, acknowledge = true } = {}) {
    this.directory = directory;
    this.actions = actions;
    this.actionByName = Object.fromEntries(actions.map((a) => [a.name, a]));
    this.allow(allowed, acknowledge);
  }

  /** Offer only these actions (names; null: all) from now on, and the
   *  alerts' Acknowledge when `acknowledge`. */
  allow(names, acknowledge = true) {
    this.allowed = new Set(names ?? this.actions.map((a) => a.name));
    this.mayAcknowledge = acknowledge;
  }

  /** Whether this supervisor may take any action at all. */
  get canControl() {
    return this.allowed.size > 0;
  }

  /** {name, ext} of a party: the directory's name and extension number. */
  person(party) {
    if (!party) return { name: "", ext: "", number: "" };
    const entry = party.ext ? this.directory[party.ext] : undefined;
    return {
      // The directory's name is the person's; a leg's may be a caller id.
      name: isolate(entry?.name || party.name || ""),
      ext: entry?.number || "",
      number: party.number || "",
    };
  }

  /** "Vera Costa (ext 2582)" */
  agentLabel(call) {
    if (!call.agent) return "";
    const { name, ext, number } = this.person(call.agent);
    if (ext) return `${name || "Extension"} (ext ${ext})`;
    return joinNameNumber(name, number);
  }

  /** "MUELLER KLAUS (+14155555265)"; an internal peer shows its extension. */
  customerLabel(call) {
    if (!call.customer) return "";
    const { name, ext, number } = this.person(call.customer);
    if (ext) return `${name || "Extension"} (ext ${ext})`;
    return joinNameNumber(name, number);
  }

  /** One line per leg: "Carmen Ortiz (ext 103) — Proceeding". */
  partyLine(party) {
    const { name, ext, number } = this.person(party);
    const who = ext ? `${name || "Extension"} (ext ${ext})` : joinNameNumber(name, number) || party.id;
    return `${who} — ${party.status}${party.muted ? " (muted)" : ""}`;
  }

  /** "Sales (ext 201)" for an extension id; the id itself when unknown. */
  extensionLabel(extId) {
    const entry = this.directory[extId];
    if (!entry) return `Extension ${extId}`;
    return `${isolate(entry.name) || "Extension"} (ext ${entry.number})`;
  }

  /** A call queue's name by its extension id. */
  queueName(extId) {
    return this.directory[extId]?.name || `Queue ${extId}`;
  }

  /** What the other side of a call is: "Customer", or "Colleague" when it
   *  is an extension of the account (an internal call). */
  customerRole(call) {
    return call.customer?.ext || call.dir === "Internal" ? "Colleague" : "Customer";
  }

  /**
   * The call's queue: its name when known (a `queue` {ext, name} on the
   * wire form, not sent yet: see docs/architecture.md "The page"), else
   * "Queue call" when RingCentral marks a leg as one, else "".
   */
  queueLabel(call) {
    const queue = call.queue;
    const name = queue && (queue.name || this.directory[queue.ext]?.name);
    if (name) return name;
    return queue || call.agent?.queueCall || call.customer?.queueCall ? "Queue call" : "";
  }

  /** The pending label of the action under way ("holding…"). */
  pendingLabel(action) {
    return this.actionByName[action]?.pending || "working…";
  }

  /**
   * Everything a search looks in, lowercase, computed once per change of
   * the call: names, numbers (also as bare digits), the agent's and other
   * legs' extension numbers, the queue.
   */
  searchText(call) {
    const parts = [];
    const numbers = [];
    for (const party of [call.agent, call.customer, ...(call.others || [])]) {
      if (!party) continue;
      const { name, ext, number } = this.person(party);
      if (name) parts.push(name);
      if (ext) parts.push(`ext ${ext}`, ext);
      if (number) {
        parts.push(number);
        numbers.push(number.replace(/\D/g, ""));
      }
    }
    const queue = this.queueLabel(call);
    if (queue) parts.push(queue);
    return `${parts.join("\n")}\n${numbers.join("\n")}`.toLowerCase();
  }

  /** The agent leg's actions as the registry offers them now; a call with
   *  no agent leg (waiting in a queue, transferred outside) still offers
   *  End, which ends the whole call. */
  offeredActions(call) {
    const agent = call.agent;
    const mine = this.actions.filter((a) => this.allowed.has(a.name));
    if (!agent?.id) return actingParty(call) ? mine.filter((a) => a.name === "end") : [];
    return mine.filter((action) => offered(action, agent));
  }
}

/** The leg a command names: the agent's, else (End only) any live leg. */
export function actingParty(call) {
  if (call.agent?.id) return call.agent;
  return [call.customer, ...(call.others || [])].find((p) => p && p.id) || null;
}

function joinNameNumber(name, number) {
  return name && number ? `${name} (${number})` : name || number || "";
}

/** "none" | "active" | "paused" */
export function recordingState(party) {
  if (!party?.rec) return "none";
  return party.rec.active ? "active" : "paused";
}

function offered(action, agent) {
  if (!action.statuses.includes(agent.status)) return false;
  if (action.muted !== null && Boolean(agent.muted) !== action.muted) return false;
  return action.recording === null || recordingState(agent) === action.recording;
}

/** The agent leg's flags as words: "● Recording · Muted". */
export function flagsOf(call) {
  const agent = call.agent;
  if (!agent) return "";
  const flags = [];
  const recording = recordingState(agent);
  if (recording === "active") flags.push("● Recording");
  else if (recording === "paused") flags.push("Recording paused");
  if (agent.muted) flags.push("Muted");
  return flags.join(" · ");
}

/** When the time shown started: the call's start while it waits in a
 *  queue, else the agent leg's status change, else the call's last update,
 *  else its start (ISO text, or ""). */
export function timerSince(call) {
  if (inQueue(call)) return call.start || ""; // how long the caller has waited
  return call.agent?.since || call.updated || call.start || "";
}

/** "04:07" or "1:04:07" for a duration in ms. */
export function formatDuration(ms) {
  const s = Math.max(0, Math.floor(ms / 1000));
  const h = Math.floor(s / 3600);
  const mm = String(Math.floor((s % 3600) / 60)).padStart(2, "0");
  const ss = String(s % 60).padStart(2, "0");
  return h ? `${h}:${mm}:${ss}` : `${mm}:${ss}`;
}

const parsed = new Map(); // ISO text -> ms: the same `since` is read every second
export function parseTime(iso) {
  if (!iso) return NaN;
  let ms = parsed.get(iso);
  if (ms === undefined) {
    ms = Date.parse(iso);
    if (parsed.size > 20000) parsed.clear();
    parsed.set(iso, ms);
  }
  return ms;
}

/** The timer's text at server time `now` (ms). */
export function timerText(call, now) {
  const since = parseTime(timerSince(call));
  return Number.isNaN(since) ? "" : formatDuration(now - since);
}
