// The live store's protocol handling (static/dashboard/live.js), in Node:
// a fake socket, fake timers and a manual flush stand in for the browser.
import assert from "node:assert/strict";
import { test } from "node:test";

import { LiveStore, backoffDelay, POLICY } from "../../static/dashboard/live.js";
import { countText, describeConnection } from "../../static/dashboard/header.js";

class FakeSocket {
  static all = [];
  constructor(url) {
    this.url = url;
    this.readyState = 0;
    this.sent = [];
    FakeSocket.all.push(this);
  }
  send(text) {
    this.sent.push(JSON.parse(text));
  }
  close() {
    this.readyState = 3;
  }
  // test side
  open() {
    this.readyState = 1;
    this.onopen?.();
  }
  frame(object) {
    this.onmessage?.({ data: JSON.stringify(object) });
  }
  drop() {
    this.readyState = 3;
    this.onclose?.({ code: 1006 });
  }
}

function harness({ random = () => 0.5 } = {}) {
  FakeSocket.all = [];
  let clock = 1_000_000;
  const timers = [];
  const store = new LiveStore({
    url: "ws://test/ws/console/",
    WebSocket: FakeSocket,
    now: () => clock,
    schedule: () => {}, // flushed by hand
    setTimeout: (fn, ms) => {
      const t = { fn, at: clock + ms, done: false };
      timers.push(t);
      return t;
    },
    clearTimeout: (t) => t && (t.done = true),
    random,
    requestId: (() => {
      let n = 0;
      return () => `r${++n}`;
    })(),
  });
  const changes = [];
  store.subscribe((c) => changes.push({ ...c, ids: new Set(c.ids) }));
  const advance = (ms) => {
    clock += ms;
    for (const t of timers) {
      if (!t.done && t.at <= clock) {
        t.done = true;
        t.fn();
      }
    }
  };
  const socket = () => FakeSocket.all.at(-1);
  return { store, changes, advance, socket, now: () => clock };
}

const call = (id, extra = {}) => ({ id, state: "talking", start: `2026-01-01T00:00:0${id.length % 10}.000Z`, ...extra });

function snapshot(sock, { epoch = "e1", n = 5, time, parts }) {
  parts.forEach((calls, i) =>
    sock.frame({ type: "snapshot", epoch, n, part: i + 1, parts: parts.length, time, worker: { connected: true, error: null, since: null }, calls }),
  );
}

test("a snapshot in parts replaces the floor only when its last part is in", () => {
  const { store, changes, socket, now } = harness();
  store.start();
  socket().open();
  store.calls.set("old", call("old"));
  snapshot(socket(), { time: now(), parts: [[call("a")], [call("b")]] });
  assert.deepEqual([...store.calls.keys()], ["a", "b"]);

  const s = socket();
  s.frame({ type: "snapshot", epoch: "e2", n: 9, part: 1, parts: 2, time: now(), worker: {}, calls: [call("x")] });
  assert.ok(store.calls.has("a"), "the old floor stays until the last part");
  assert.equal(store.synced, false);
  s.frame({ type: "snapshot", epoch: "e2", n: 9, part: 2, parts: 2, time: now(), worker: {}, calls: [call("y")] });
  assert.deepEqual([...store.calls.keys()].sort(), ["x", "y"]);
  assert.equal(store.n, 9);
  assert.equal(store.epoch, "e2");
  store.flush();
  assert.equal(changes.at(-1).all, true);
});

test("deltas apply in order; old ones are skipped; a gap asks for one resync and drops the rest", () => {
  const { store, changes, socket, now } = harness();
  store.start();
  socket().open();
  snapshot(socket(), { n: 10, time: now(), parts: [[call("a"), call("b")]] });
  store.flush();
  const s = socket();
  s.frame({ type: "delta", epoch: "e1", n: 10, time: now(), calls: [call("zzz")], ended: [] });
  assert.ok(!store.calls.has("zzz"), "n <= last is already in the snapshot");
  s.frame({ type: "delta", epoch: "e1", n: 11, time: now(), calls: [call("a", { state: "held" })], ended: ["b"] });
  assert.equal(store.get("a").state, "held");
  assert.ok(!store.calls.has("b"));
  store.flush();
  assert.deepEqual([...changes.at(-1).ids].sort(), ["a", "b"]);

  s.frame({ type: "delta", epoch: "e1", n: 13, time: now(), calls: [call("c")], ended: [] });
  assert.ok(!store.calls.has("c"), "nothing past a gap is applied");
  assert.equal(store.synced, false);
  assert.deepEqual(s.sent, [{ type: "resync" }]);
  s.frame({ type: "delta", epoch: "e1", n: 14, time: now(), calls: [call("d")], ended: [] });
  assert.ok(!store.calls.has("d"), "nothing is buffered while waiting");
  assert.equal(s.sent.length, 1, "resync is asked once");
  snapshot(s, { n: 14, time: now(), parts: [[call("a"), call("d")]] });
  assert.equal(store.synced, true);
  s.frame({ type: "delta", epoch: "e1", n: 15, time: now(), calls: [call("e")], ended: [] });
  assert.ok(store.calls.has("e"));
});

test("a delta of another epoch means resync", () => {
  const { store, socket, now } = harness();
  store.start();
  socket().open();
  snapshot(socket(), { n: 3, time: now(), parts: [[call("a")]] });
  socket().frame({ type: "delta", epoch: "other", n: 4, time: now(), calls: [call("b")], ended: [] });
  assert.ok(!store.calls.has("b"));
  assert.deepEqual(socket().sent, [{ type: "resync" }]);
});

test("a part out of order restarts the snapshot with a resync", () => {
  const { store, socket, now } = harness();
  store.start();
  socket().open();
  const s = socket();
  s.frame({ type: "snapshot", epoch: "e", n: 1, part: 1, parts: 3, time: now(), worker: {}, calls: [call("a")] });
  s.frame({ type: "snapshot", epoch: "e", n: 1, part: 3, parts: 3, time: now(), worker: {}, calls: [call("c")] });
  assert.equal(store.loaded, false);
  assert.deepEqual(s.sent, [{ type: "resync" }]);
});

test("clock offset from the snapshot; lag when frames arrive late", () => {
  const { store, socket, now, advance } = harness();
  store.start();
  socket().open();
  // The server's clock is 5 s ahead of ours.
  snapshot(socket(), { n: 1, time: now() + 5000, parts: [[call("a")]] });
  assert.equal(store.offset, 5000);
  assert.equal(store.serverNow(), now() + 5000);
  advance(100);
  socket().frame({ type: "delta", epoch: "e1", n: 2, time: now() + 5000 - 3500, calls: [], ended: [] });
  assert.equal(store.lag, 3500);
  assert.deepEqual(describeConnection(store), { kind: "warn", text: "Behind by 4 s" });
  socket().frame({ type: "delta", epoch: "e1", n: 3, time: now() + 5000, calls: [], ended: [] });
  assert.equal(store.lag, 0);
  assert.deepEqual(describeConnection(store), { kind: "up", text: "Live" });
});

test("a cached (stale) first snapshot does not set the clock; the next fresh frame does", () => {
  const { store, socket, now } = harness();
  store.start();
  socket().open();
  snapshot(socket(), { n: 1, time: now() - 10 * 60_000, parts: [[call("a")]] });
  assert.equal(store.offset, 0);
  socket().frame({ type: "worker_status", time: now() - 1000, worker: { connected: true, error: null, since: null } });
  assert.equal(store.offset, -1000);
  assert.equal(store.lag, 0);
});

test("reconnects with jittered exponential backoff, resets after a healthy connection", () => {
  const delays = [];
  for (let attempt = 0; attempt < 8; attempt++) {
    delays.push([backoffDelay(attempt, () => 0), backoffDelay(attempt, () => 1)]);
  }
  assert.deepEqual(delays[0], [500, 1000]);
  assert.deepEqual(delays[1], [500, 2000]);
  assert.deepEqual(delays[4], [500, 15000]);
  assert.deepEqual(delays[7], [500, 15000]);

  const { store, socket, advance } = harness({ random: () => 1 });
  store.start();
  socket().open();
  assert.equal(describeConnection(store).text, "Waiting for the telephony worker…");
  socket().drop(); // e.g. 4008: the server cut a console that stopped reading
  assert.equal(describeConnection(store).text, "Reconnecting…");
  const first = socket();
  advance(999);
  assert.equal(socket(), first);
  advance(1);
  assert.notEqual(socket(), first, "first retry within 1 s");
  socket().drop();
  const second = socket();
  advance(1999);
  assert.equal(socket(), second);
  advance(1);
  assert.notEqual(socket(), second, "then within 2 s");
  socket().open();
  advance(POLICY.healthyAfter);
  socket().drop();
  const third = socket();
  advance(1000);
  assert.notEqual(socket(), third, "a healthy connection resets the backoff");
});

test("commands stay pending until confirmed, refused, errored, ended or 45 s", () => {
  const { store, changes, socket, now, advance } = harness();
  store.start();
  socket().open();
  snapshot(socket(), { n: 1, time: now(), parts: [[call("a", { agent: { id: "p1" } }), call("b")]] });
  const s = socket();

  const r1 = store.command("a", "p1", "hold");
  assert.deepEqual(s.sent.at(-1), { type: "command", requestId: r1, action: "hold", sessionId: "a", partyId: "p1" });
  assert.equal(store.pendingFor("a").action, "hold");
  assert.equal(store.command("a", "p1", "mute"), null, "one command at a time per call");
  s.frame({ type: "command_result", requestId: r1, ok: true, action: "hold", sessionId: "a", message: "", errorCode: null, status: 200, retryAfter: null });
  assert.ok(store.pendingFor("a"), "accepted is not confirmed");
  s.frame({ type: "command_confirmed", requestId: r1, confirmed: true, message: "" });
  assert.equal(store.pendingFor("a"), undefined);

  const r2 = store.command("a", "p1", "hold");
  s.frame({ type: "command_result", requestId: r2, ok: false, action: "hold", sessionId: "a", message: "Hold: no (CMN-120)", errorCode: "CMN-120", status: 404, retryAfter: null });
  assert.equal(store.pendingFor("a"), undefined);
  assert.equal(store.errorFor("a"), "Hold: no (CMN-120)");

  const r3 = store.command("a", "p1", "mute", { x: "1" });
  assert.equal(store.errorFor("a"), "", "a new command clears the error");
  s.frame({ type: "error", message: "Invalid partyId.", requestId: r3 });
  assert.equal(store.errorFor("a"), "Invalid partyId.");
  s.frame({ type: "error", message: "Unknown message type 'x'.", requestId: null });
  store.flush();
  assert.deepEqual(changes.at(-1).notices.at(-1), "Unknown message type 'x'.");

  store.command("b", "p9", "end");
  s.frame({ type: "delta", epoch: "e1", n: 2, time: now(), calls: [], ended: ["b"] });
  assert.equal(store.pendingFor("b"), undefined, "the call ending settles End");
  assert.equal(store.errorFor("b"), "");

  store.command("a", "p1", "listen");
  advance(POLICY.commandDeadline);
  assert.equal(store.pendingFor("a"), undefined);
  assert.match(store.errorFor("a"), /No confirmation arrived/);

  store.command("a", "p1", "listen");
  s.drop();
  assert.equal(store.pendingFor("a"), undefined, "a lost socket releases everything");
  assert.match(store.errorFor("a"), /Connection lost/);
});

test("a command while disconnected is refused with a notice", () => {
  const { store, changes } = harness();
  store.start();
  assert.equal(store.command("a", "p", "hold"), null);
  store.flush();
  assert.match(changes.at(-1).notices[0], /Not connected/);
});

test("the worker's status and the header's words", () => {
  const { store, socket, now } = harness();
  store.start();
  assert.equal(describeConnection(store).text, "Connecting…");
  socket().open();
  snapshot(socket(), { n: 1, time: now(), parts: [[]] });
  assert.equal(describeConnection(store).text, "Live");
  socket().frame({ type: "worker_status", time: now(), worker: { connected: false, error: "Bad JWT (OAU-140)", since: null } });
  assert.deepEqual(describeConnection(store), { kind: "down", text: "Bad JWT (OAU-140)" });
  socket().frame({ type: "worker_status", time: now(), worker: { connected: false, error: null, since: null } });
  assert.equal(describeConnection(store).text, "Waiting for the telephony worker…");
  assert.equal(countText(1, 1, ""), "1 live call");
  assert.equal(countText(5000, 3, "ava"), "5,000 live calls · 3 shown");
});
