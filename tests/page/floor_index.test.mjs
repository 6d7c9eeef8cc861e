// The floor's incremental order and search (static/dashboard/floor-index.js)
// and the call texts it searches (static/dashboard/calls.js), in Node.
import assert from "node:assert/strict";
import { test } from "node:test";

import { CallText, flagsOf, formatDuration, timerText } from "../../static/dashboard/calls.js";
import { FloorIndex, sortKey } from "../../static/dashboard/floor-index.js";
import { longestIncreasing } from "../../static/dashboard/floor.js";

const directory = {
  e1: { number: "2582", name: "Vera Costa" },
  e2: { number: "103", name: "Carmen Ortiz" },
  q1: { number: "201", name: "Sales" },
};
const text = new CallText({ directory });

function call(id, start, extra = {}) {
  return {
    id,
    state: "talking",
    dir: "Inbound",
    start,
    agent: { id: `${id}-a`, status: "Answered", ext: "e1", name: "Vera Costa", number: "+16505550100" },
    customer: { id: `${id}-c`, status: "Answered", name: "MUELLER KLAUS", number: "+14155555265" },
    ...extra,
  };
}

function floor(n) {
  const calls = new Map();
  for (let i = 0; i < n; i++) {
    const id = `s${String(i).padStart(5, "0")}`;
    calls.set(id, call(id, new Date(Date.UTC(2026, 0, 1, 0, 0, i)).toISOString(), {
      customer: { id: "c", status: "Answered", name: `Caller ${i}`, number: `+1415555${String(i).padStart(4, "0")}` },
    }));
  }
  return calls;
}

const check = (index, calls) => {
  const sorted = [...calls.values()].sort((a, b) => (sortKey(a) < sortKey(b) ? -1 : 1)).map((c) => c.id);
  assert.deepEqual(index.order, sorted);
};

test("oldest first, ties by id; kept in order through adds, moves and ends", () => {
  const calls = new Map([
    ["b", call("b", "2026-01-01T00:00:02.000Z")],
    ["a", call("a", "2026-01-01T00:00:02.000Z")],
    ["c", call("c", "2026-01-01T00:00:01.000Z")],
  ]);
  const index = new FloorIndex((c) => text.searchText(c));
  index.rebuild(calls);
  assert.deepEqual(index.shown, ["c", "a", "b"]);
  calls.set("d", call("d", "2026-01-01T00:00:00.500Z"));
  calls.delete("a");
  calls.set("c", call("c", "2026-01-01T00:00:09.000Z"));
  assert.equal(index.update(calls, new Set(["d", "a", "c"])), true);
  assert.deepEqual(index.shown, ["d", "b", "c"]);
  calls.set("b", { ...calls.get("b"), state: "held" });
  assert.equal(index.update(calls, new Set(["b"])), false, "an update in place moves nothing");
});

test("search: name, number (also as digits), agent extension via the directory, queue", () => {
  const calls = floor(50);
  calls.set("q", call("q", "2026-01-01T01:00:00.000Z", { queue: { ext: "q1" } }));
  calls.set("t", call("t", "2026-01-01T01:00:01.000Z", { agent: { id: "x", status: "Answered", ext: "e2" } }));
  const index = new FloorIndex((c) => text.searchText(c));
  index.rebuild(calls);
  index.setQuery("caller 7");
  assert.deepEqual(index.shown, ["s00007"]);
  index.setQuery("+14155550042");
  assert.deepEqual(index.shown, ["s00042"]);
  index.setQuery("(415) 555-0042");
  assert.deepEqual(index.shown, ["s00042"]);
  index.setQuery("103");
  assert.deepEqual(index.shown, ["t"], "Carmen Ortiz's extension, from the directory");
  index.setQuery("carmen");
  assert.deepEqual(index.shown, ["t"]);
  index.setQuery("SALES");
  assert.deepEqual(index.shown, ["q"]);
  index.setQuery("");
  assert.equal(index.length, 52);
});

test("a change updates matches incrementally", () => {
  const calls = floor(10);
  const index = new FloorIndex((c) => text.searchText(c));
  index.rebuild(calls);
  index.setQuery("dana");
  assert.equal(index.length, 0);
  const renamed = { ...calls.get("s00003"), customer: { id: "c", status: "Answered", name: "Dana Scully" } };
  calls.set("s00003", renamed);
  assert.equal(index.update(calls, new Set(["s00003"])), true);
  assert.deepEqual(index.shown, ["s00003"]);
  calls.set("z", call("z", "2026-01-01T00:00:01.500Z", { customer: { id: "c", status: "Answered", name: "Dana X" } }));
  calls.set("y", call("y", "2026-01-01T00:00:01.600Z"));
  index.update(calls, new Set(["z", "y"]));
  assert.deepEqual(index.shown, ["z", "s00003"]);
  calls.delete("s00003");
  index.update(calls, new Set(["s00003"]));
  assert.deepEqual(index.shown, ["z"]);
  check(index, calls);
});

test("5,000 calls: a keystroke's search and a busy delta are fast", () => {
  const calls = floor(5000);
  const index = new FloorIndex((c) => text.searchText(c));
  let t = performance.now();
  index.rebuild(calls);
  const rebuild = performance.now() - t;
  t = performance.now();
  for (const q of ["c", "ca", "cal", "call", "calle", "caller", "caller 4", "caller 49"]) index.setQuery(q);
  const perKey = (performance.now() - t) / 8;
  assert.equal(index.length, 111); // 49, 490-499, 4900-4999
  index.setQuery("");
  // A window's delta: 150 updates, 30 ends, 30 new calls.
  const ids = new Set();
  const keys = [...calls.keys()];
  for (let i = 0; i < 150; i++) {
    const id = keys[(i * 31) % keys.length];
    calls.set(id, { ...calls.get(id), state: "held" });
    ids.add(id);
  }
  for (let i = 0; i < 30; i++) {
    calls.delete(keys[i * 7]);
    ids.add(keys[i * 7]);
    const id = `n${i}`;
    calls.set(id, call(id, new Date(Date.UTC(2026, 0, 2, 0, 0, i)).toISOString()));
    ids.add(id);
  }
  t = performance.now();
  index.update(calls, ids);
  const delta = performance.now() - t;
  check(index, calls);
  assert.ok(rebuild < 200, `rebuild ${rebuild} ms`);
  assert.ok(perKey < 50, `search ${perKey} ms per keystroke`);
  assert.ok(delta < 20, `delta ${delta} ms`);
  console.log(JSON.stringify({ rebuild_ms: +rebuild.toFixed(1), search_ms_per_key: +perKey.toFixed(2), delta_ms: +delta.toFixed(2) }));
});

test("labels, flags and timers", () => {
  const c = call("a", "2026-01-01T00:00:00.000Z", {
    agent: { id: "p", status: "Hold", ext: "e1", since: "2026-01-01T00:01:00.000Z", rec: { id: "r", active: false }, muted: true },
  });
  assert.equal(text.agentLabel(c), "Vera Costa (ext 2582)");
  assert.equal(text.customerLabel(c), "MUELLER KLAUS (+14155555265)");
  assert.equal(flagsOf(c), "Recording paused · Muted");
  assert.equal(timerText(c, Date.parse("2026-01-01T00:05:07.900Z")), "04:07");
  assert.equal(formatDuration(3_723_000), "1:02:03");
  assert.equal(text.queueLabel(c), "");
  assert.equal(text.queueLabel({ ...c, agent: { ...c.agent, queueCall: true } }), "Queue call");
  assert.equal(text.partyLine({ id: "p", status: "Proceeding", ext: "e2" }), "Carmen Ortiz (ext 103) — Proceeding");
});

test("offered actions follow the registry's statuses, mute and recording states", () => {
  const actions = [
    { name: "hold", label: "Hold", statuses: ["Answered"], muted: null, recording: null, params: [] },
    { name: "unhold", label: "Unhold", statuses: ["Hold"], muted: null, recording: null, params: [] },
    { name: "mute", label: "Mute", statuses: ["Answered", "Hold"], muted: false, recording: null, params: [] },
    { name: "record_pause", label: "Pause rec", statuses: ["Answered", "Hold"], muted: null, recording: "active", params: ["recordingId"] },
    { name: "end", label: "End", statuses: ["Answered", "Hold", "Proceeding"], muted: null, recording: null, params: [] },
  ];
  const t = new CallText({ actions });
  const names = (agent) => t.offeredActions({ agent: { id: "a", ...agent } }).map((a) => a.label);
  assert.deepEqual(names({ status: "Answered" }), ["Hold", "Mute", "End"]);
  assert.deepEqual(names({ status: "Hold", muted: true, rec: { id: "r", active: true } }), ["Unhold", "Pause rec", "End"]);
  assert.deepEqual(t.offeredActions({}), []);
  // No agent leg (waiting in a queue): End only, on the whole call.
  assert.deepEqual(t.offeredActions({ customer: { id: "c", status: "Answered" } }).map((a) => a.label), ["End"]);
  // A far end known only by name has no leg to act on.
  assert.deepEqual(t.offeredActions({ customer: { name: "X" } }), []);
});

test("only the actions the supervisor may take are offered, and that can change", () => {
  const actions = [
    { name: "hold", label: "Hold", statuses: ["Answered"], muted: null, recording: null, params: [] },
    { name: "end", label: "End", statuses: ["Answered"], muted: null, recording: null, params: [] },
  ];
  const t = new CallText({ actions, allowed: ["hold"], acknowledge: false });
  const call = { agent: { id: "a", status: "Answered" } };
  assert.deepEqual(t.offeredActions(call).map((a) => a.name), ["hold"]);
  assert.equal(t.canControl, true);
  assert.equal(t.mayAcknowledge, false);
  t.allow([], false); // a Viewer now
  assert.deepEqual(t.offeredActions(call), []);
  assert.equal(t.canControl, false);
  t.allow(["hold", "end"], true);
  assert.deepEqual(t.offeredActions(call).map((a) => a.name), ["hold", "end"]);
  assert.equal(t.mayAcknowledge, true);
  // Without a word from the server (older pages, tests): everything.
  assert.deepEqual(new CallText({ actions }).offeredActions(call).map((a) => a.name), ["hold", "end"]);
});

test("rows in order stay put: a longest increasing run of DOM positions", () => {
  const kept = (values) => longestIncreasing(values).flatMap((k, i) => (k ? [values[i]] : []));
  assert.deepEqual(kept([0, 1, 2, 3]), [0, 1, 2, 3], "a jump refilled in place moves nothing");
  assert.deepEqual(kept([1, 2, 3, 0]), [1, 2, 3], "one row down: only the reused one moves");
  assert.deepEqual(kept([3, 0, 1, 2]), [0, 1, 2], "one row up");
  assert.deepEqual(kept([-1, 0, -1, 1]), [0, 1], "new rows are inserted, never kept");
  assert.deepEqual(kept([]), []);
});
