// The supervisor's views as data (static/dashboard/filters.js, boards.js,
// panels.js) and the store's other collections and staleness (live.js),
// in Node.
import assert from "node:assert/strict";
import { test } from "node:test";

import { CallText, isolate } from "../../static/dashboard/calls.js";
import { callFilter, groupOf, readView, sortKeyFor, viewParams } from "../../static/dashboard/filters.js";
import { agentCalls, queueAgents, queueWaits } from "../../static/dashboard/boards.js";
import { alertLimit, callContext, othersOn } from "../../static/dashboard/panels.js";
import { FloorIndex } from "../../static/dashboard/floor-index.js";
import { ACCESS_ENDED, LiveStore, NOT_PERMITTED, TOO_MANY_CONSOLES } from "../../static/dashboard/live.js";

const directory = {
  e1: { number: "101", name: "Alice Agent", type: "User" },
  e2: { number: "102", name: "Bob Builder", type: "User" },
  q1: { number: "201", name: "Sales", type: "Department" },
};
const text = new CallText({ directory, actions: [{ name: "hold", pending: "holding…" }] });
const T0 = Date.parse("2026-01-01T10:00:00Z");

const waiting = {
  id: "w",
  state: "ringing",
  dir: "Inbound",
  start: "2026-01-01T09:59:00.000Z",
  queue: { ext: "q1", name: "Sales" },
  customer: { id: "w-c", status: "Answered", number: "+1415" },
};
const talking = {
  id: "t",
  state: "talking",
  dir: "Outbound",
  start: "2026-01-01T09:50:00.000Z",
  answered: "2026-01-01T09:50:05.000Z",
  agent: { id: "t-a", status: "Answered", ext: "e1", since: "2026-01-01T09:55:00.000Z", rec: { id: "r", active: true } },
  customer: { id: "t-c", status: "Answered", number: "+1650" },
};
const held = {
  id: "h",
  state: "held",
  dir: "Inbound",
  start: "2026-01-01T09:58:00.000Z",
  queue: { ext: "q1", name: "Sales" },
  answered: "2026-01-01T09:58:10.000Z",
  agent: { id: "h-a", status: "Hold", ext: "e2", since: "2026-01-01T09:59:30.000Z" },
  customer: { id: "h-c", status: "Answered", number: "+1212" },
};
const calls = new Map([waiting, talking, held].map((c) => [c.id, c]));

test("the view round-trips through the URL, unknown values dropped", () => {
  const v = readView(new URLSearchParams("view=agents&queue=q1&state=bogus&min=300&sort=longest&group=queue"));
  assert.equal(v.view, "agents");
  assert.equal(v.state, "");
  assert.equal(v.min, 300);
  assert.deepEqual(
    Object.fromEntries(Object.entries(viewParams(v)).filter(([, x]) => x)),
    { view: "agents", queue: "q1", min: "300", sort: "longest", group: "queue" },
  );
  assert.equal(readView(new URLSearchParams("min=7")).min, 0);
});

test("filters: queue, agent, waiting, direction, recording, time in state", () => {
  const pick = (params) => {
    const test = callFilter(readView(new URLSearchParams(params)), () => T0);
    return [...calls.values()].filter((c) => !test || test(c)).map((c) => c.id);
  };
  assert.deepEqual(pick(""), ["w", "t", "h"]);
  assert.deepEqual(pick("queue=q1"), ["w", "h"]);
  assert.deepEqual(pick("agent=e1"), ["t"]);
  assert.deepEqual(pick("state=waiting"), ["w"]);
  assert.deepEqual(pick("state=held"), ["h"]);
  assert.deepEqual(pick("dir=Outbound"), ["t"]);
  assert.deepEqual(pick("rec=on"), ["t"]);
  assert.deepEqual(pick("rec=off"), ["w", "h"]);
  // In state over 1 min at 10:00: the talk (5 min) and the wait (1 min, since start).
  assert.deepEqual(pick("min=60"), ["w", "t"]);
  assert.deepEqual(pick("min=300"), ["t"]);
});

test("sorts and groups order the index", () => {
  const index = new FloorIndex((c) => text.searchText(c), sortKeyFor("newest"));
  index.rebuild(calls);
  assert.deepEqual(index.shown, ["w", "h", "t"]);
  index.setOrder(sortKeyFor("longest"));
  assert.deepEqual(index.shown, ["t", "w", "h"]);
  const byQueue = (c) => `${groupOf("queue", c, text).key}\u0002${sortKeyFor("oldest")(c)}`;
  index.setOrder(byQueue);
  assert.deepEqual(index.shown, ["h", "w", "t"]); // Sales (oldest first), then no queue
  assert.deepEqual(groupOf("agent", talking, text), { key: "alice agent (ext 101)", label: "Alice Agent (ext 101)" });
  index.setFilter((c) => c.state !== "talking");
  assert.deepEqual(index.shown, ["h", "w"]);
});

test("agent board and queue view figures", () => {
  const busy = agentCalls(calls);
  assert.deepEqual(busy.get("e1"), { state: "talking", since: talking.agent.since, callId: "t" });
  assert.equal(busy.get("e2").state, "held");
  const waits = queueWaits(calls, T0);
  assert.deepEqual(waits.get("q1"), { waiting: 1, longest: 60_000 });
  const agents = new Map([["e3", { ext: "e3", state: "available" }], ["e4", { ext: "e4", state: "dnd" }]]);
  assert.deepEqual(queueAgents(["e1", "e3", "e4", "e5"], agents, busy), { available: 1, busy: 1, away: 2 });
});

test("texts: call context, other supervisors, alert limits", () => {
  assert.equal(callContext(talking, text), "Alice Agent (ext 101) with +1650, talking");
  const seen = { viewers: ["me", "bob"], pending: [{ user: "carol", action: "hold" }] };
  assert.equal(othersOn(seen, "me", text), "bob, carol (holding…)");
  assert.equal(othersOn({ viewers: ["me"], pending: [] }, "me", text), "");
  assert.equal(alertLimit({ kind: "long_hold", threshold: 120 }), "over 02:00");
  assert.equal(alertLimit({ kind: "service_level", threshold: 80 }), "under 80 %");
});

test("the store keeps agents, alerts, attention, queues; staleness follows the link and beats", () => {
  let clock = T0;
  const sent = [];
  class Socket {
    constructor() {
      this.readyState = 1;
      Socket.last = this;
    }
    send(t) {
      sent.push(JSON.parse(t));
    }
    close() {}
  }
  const store = new LiveStore({
    url: "ws://x",
    WebSocket: Socket,
    now: () => clock,
    schedule: () => {},
    setTimeout: () => null,
    clearTimeout: () => {},
  });
  store.start();
  const sock = Socket.last;
  sock.onopen();
  const worker = { connected: true, error: null, since: null, beat: new Date(T0).toISOString() };
  sock.onmessage({
    data: JSON.stringify({
      type: "snapshot", epoch: "e", n: 1, part: 1, parts: 1, time: T0, worker,
      calls: [talking], agents: [{ ext: "e1", state: "available" }],
      alerts: [{ id: "long_hold:h", kind: "long_hold", subject: "call", subjectId: "h" }],
      attention: [{ id: "t", viewers: ["bob"], pending: [] }], queues: [{ ext: "q1", offered: 3 }],
    }),
  });
  store.flush();
  assert.equal(store.agents.get("e1").state, "available");
  assert.equal(store.attention.get("t").viewers[0], "bob");
  assert.equal(store.staleness().stale, false);
  sock.onmessage({
    data: JSON.stringify({
      type: "delta", epoch: "e", n: 2, time: T0, calls: [], ended: [],
      agents: [{ ext: "e1", state: "dnd" }], alerts: [], cleared: ["long_hold:h"],
      attention: [{ id: "t", viewers: [], pending: [] }], queues: [],
    }),
  });
  assert.equal(store.agents.get("e1").state, "dnd");
  assert.equal(store.alerts.size, 0);
  assert.equal(store.attention.has("t"), false);
  // No beat for 20 s: stale, though the link says up.
  clock += 20_000;
  assert.equal(store.staleness().stale, true);
  // A beat alone (same link state) makes it live again.
  sock.onmessage({
    data: JSON.stringify({ type: "worker_status", time: clock, worker: { ...worker, beat: new Date(clock).toISOString() } }),
  });
  assert.equal(store.staleness().stale, false);
  // The link down: stale since the worker says.
  const since = new Date(T0 + 19_000).toISOString();
  sock.onmessage({ data: JSON.stringify({ type: "worker_status", time: clock, worker: { connected: false, error: "gone", since } }) });
  store._staleSince = 0;
  const down = store.staleness();
  assert.equal(down.since, T0 + 19_000);
  assert.match(down.reason, /RingCentral is down: gone/);
  sock.onmessage({
    data: JSON.stringify({ type: "worker_status", time: clock, worker: { ...worker, beat: new Date(clock).toISOString() } }),
  });
  assert.equal(store.staleness().stale, false);
  store.acknowledge("x");
  store.view("t");
  assert.deepEqual(sent.slice(-2), [{ type: "ack", alertId: "x" }, { type: "viewing", sessionId: "t" }]);
});

test("names with right-to-left text or bidi controls are isolated", () => {
  const evil = "EVIL\u202eLLAC"; // a right-to-left override in a caller id
  assert.equal(isolate(evil), `\u2068${evil}\u2069`);
  assert.equal(isolate("Vera Costa"), "Vera Costa");
  assert.equal(isolate("שרה לוי"), "\u2068שרה לוי\u2069");
  const call = { id: "x", customer: { id: "c", name: evil, number: "+14155550100" } };
  assert.equal(text.customerLabel(call), `\u2068${evil}\u2069 (+14155550100)`);
});

/** A store on a fake socket, opened: {store, sock, timers, Socket}. */
function openStore() {
  const timers = [];
  class Socket {
    constructor() {
      this.readyState = 1;
      Socket.all.push(this);
    }
    send() {}
    close() {}
  }
  Socket.all = [];
  const store = new LiveStore({
    url: "ws://x",
    WebSocket: Socket,
    now: () => T0,
    schedule: () => {},
    setTimeout: (fn) => timers.push(fn),
    clearTimeout: () => {},
  });
  store.start();
  const sock = Socket.all[0];
  sock.onopen();
  return { store, sock, timers, Socket };
}

test("a console whose access ended stops and does not reconnect", () => {
  const { store, sock, timers, Socket } = openStore();
  sock.onmessage({ data: JSON.stringify({ type: "error", message: "You logged out.", requestId: null }) });
  const before = timers.length;
  sock.onclose({ code: ACCESS_ENDED });
  assert.equal(store.connection, "ended");
  assert.equal(timers.length, before); // no reconnection scheduled
  assert.equal(Socket.all.length, 1);
});

test("the server's word on what a supervisor may do reaches the page, and refusals stop it", () => {
  for (const [code, words] of [
    [NOT_PERMITTED, "You may not watch the live floor"],
    [TOO_MANY_CONSOLES, "Too many consoles are open for your user"],
  ]) {
    const { store, sock, timers } = openStore();
    const told = [];
    store.onAccess = (access) => told.push(access);
    sock.onmessage({ data: JSON.stringify({ type: "access", actions: ["hold", "unhold"], acknowledge: false }) });
    assert.deepEqual(told, [{ actions: ["hold", "unhold"], acknowledge: false }]);
    store.loaded = true; // a floor was shown: the banner says why it stopped
    const before = timers.length;
    sock.onclose({ code });
    assert.equal(store.connection, "ended");
    assert.equal(timers.length, before); // no reconnection scheduled
    assert.ok(store.staleness().reason.startsWith(words), store.staleness().reason);
  }
});
