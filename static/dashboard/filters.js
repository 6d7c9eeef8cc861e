// The supervisor's view of the floor as data: which calls (filters), in
// which order (sort), in which groups, and which tab is open. Read from the
// address bar and written back to it (url.js), so a view can be bookmarked
// and the back button undoes a change. Pure: no DOM, tested in Node.

import { inQueue, recordingState, timerSince, parseTime } from "./calls.js";

export const VIEWS = ["calls", "queues", "agents"];
export const SORTS = {
  oldest: "Oldest first",
  newest: "Newest first",
  longest: "Longest in state",
};
export const GROUPS = { "": "No grouping", queue: "Group by queue", agent: "Group by agent" };
export const STATES = {
  waiting: "Waiting in queue",
  ringing: "Ringing",
  talking: "Talking",
  held: "On hold",
  parked: "Parked",
  voicemail: "Voicemail",
};
export const DIRECTIONS = ["Inbound", "Outbound", "Internal"];
export const RECORDING = { on: "Recording", off: "Not recording" };
// Minimum time in the current state, in seconds.
export const DURATIONS = { 60: "Over 1 min", 300: "Over 5 min", 900: "Over 15 min" };

/** The view's parameters, as the URL holds them (unknown values dropped). */
export function readView(params) {
  const get = (name) => params.get(name) || "";
  const pick = (name, allowed) => (allowed.includes(get(name)) ? get(name) : "");
  const view = pick("view", VIEWS) || "calls";
  const min = Number(get("min"));
  return {
    view,
    q: get("q"),
    queue: get("queue"),
    agent: get("agent"),
    state: pick("state", Object.keys(STATES)),
    dir: pick("dir", DIRECTIONS),
    rec: pick("rec", Object.keys(RECORDING)),
    min: String(min) in DURATIONS ? min : 0,
    sort: pick("sort", Object.keys(SORTS)) || "oldest",
    group: pick("group", Object.keys(GROUPS)),
    layout: pick("layout", ["rows", "cards"]) || "auto",
  };
}

/** The URL parameters of a view (defaults left out). */
export function viewParams(v) {
  return {
    view: v.view === "calls" ? "" : v.view,
    q: v.q.trim() ? v.q : "",
    queue: v.queue,
    agent: v.agent,
    state: v.state,
    dir: v.dir,
    rec: v.rec,
    min: v.min ? String(v.min) : "",
    sort: v.sort === "oldest" ? "" : v.sort,
    group: v.group,
    layout: v.layout === "auto" ? "" : v.layout,
  };
}

/** Whether any filter (not the search) narrows the calls shown. */
export function filtering(v) {
  return Boolean(v.queue || v.agent || v.state || v.dir || v.rec || v.min);
}

/** A call's queue's extension id ("" when none). */
export function queueOf(call) {
  return call.queue?.ext || "";
}

/** Waiting in a queue: a queue call nobody has answered yet. */
export function isWaiting(call) {
  return Boolean(call.queue) && !call.answered && (call.state === "setup" || call.state === "ringing" || inQueue(call));
}

/**
 * The filters' test on a call, or null when nothing is filtered. `now()`
 * is the server's clock (ms); a duration filter depends on it, so a view
 * with one re-filters every second.
 */
export function callFilter(v, now) {
  if (!filtering(v)) return null;
  return (call) => {
    if (v.queue && queueOf(call) !== v.queue) return false;
    if (v.agent && call.agent?.ext !== v.agent) return false;
    if (v.state) {
      if (v.state === "waiting" ? !isWaiting(call) : call.state !== v.state) return false;
    }
    if (v.dir && call.dir !== v.dir) return false;
    if (v.rec && (recordingState(call.agent) === "active") !== (v.rec === "on")) return false;
    if (v.min) {
      const since = parseTime(timerSince(call));
      if (Number.isNaN(since) || now() - since < v.min * 1000) return false;
    }
    return true;
  };
}

/** The sort key of a call for `sort`; strings compare as text. */
export function sortKeyFor(sort) {
  if (sort === "newest") {
    // Invert the start time's characters so the newest sorts first.
    return (call) => `${invert(call.start || "")}\u0001${call.id}`;
  }
  if (sort === "longest") return (call) => `${timerSince(call)}\u0001${call.id}`;
  return (call) => `${call.start || ""}\u0001${call.id}`;
}

function invert(text) {
  let out = "";
  for (let i = 0; i < text.length; i++) out += String.fromCharCode(0xffff - text.charCodeAt(i));
  return out;
}

/**
 * The group a call belongs to for `group` ("queue" or "agent"): {key,
 * label}; calls without one come last ("~" sorts after letters).
 */
export function groupOf(group, call, text) {
  if (group === "queue") {
    const label = text.queueLabel(call);
    return label ? { key: label.toLowerCase(), label } : { key: "~", label: "No queue" };
  }
  if (group === "agent") {
    const label = text.agentLabel(call);
    return label ? { key: label.toLowerCase(), label } : { key: "~", label: "No agent" };
  }
  return null;
}
