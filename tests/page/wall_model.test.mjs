// The live call wall's figures and grid layout (static/dashboard/wall-model.js),
// in Node: counts kept incrementally agree with counting afresh, the order
// groups by queue, and the grid draws what fits and counts the rest.
import assert from "node:assert/strict";
import { test } from "node:test";

import { DENSITIES, HEAD_CELLS, WallModel, capacity, category, layout, share } from "../../static/dashboard/wall-model.js";

const names = new Map([
  ["q1", "Sales"],
  ["q2", "Support"],
]);

function call(id, { state = "talking", queue = "", answered = true, start = "2026-01-01T00:00:00Z", rec = false, agent = true } = {}) {
  return {
    id,
    state,
    start,
    answered: answered ? start : undefined,
    queue: queue ? { ext: queue, name: names.get(queue) } : undefined,
    agent: agent
      ? { id: `${id}-a`, ext: "e1", status: state === "held" ? "Hold" : "Answered", since: start, rec: rec ? { id: "r", active: true } : undefined }
      : undefined,
    customer: { id: `${id}-c`, number: "…0123" },
  };
}

function recount(model, calls) {
  const fresh = new WallModel({ names, scope: model.scope });
  fresh.rebuild(calls);
  return fresh;
}

test("a call counts as waiting, held, ringing or talking", () => {
  assert.equal(category(call("a", { queue: "q1", answered: false, agent: false })), "waiting");
  assert.equal(category(call("a", { state: "ringing", queue: "q1", answered: false })), "waiting");
  assert.equal(category(call("a", { state: "ringing" })), "ringing");
  assert.equal(category(call("a", { state: "held" })), "held");
  assert.equal(category(call("a", { state: "parked" })), "talking");
});

test("counts follow deltas as counting afresh would", () => {
  const calls = new Map();
  const model = new WallModel({ names });
  model.rebuild(calls);
  const steps = [
    ["a", call("a", { queue: "q1", answered: false, agent: false })],
    ["b", call("b", { state: "held", rec: true })],
    ["c", call("c", { state: "ringing", queue: "q2" })],
    ["a", call("a", { queue: "q1" })], // answered
    ["b", null], // ended
    ["d", call("d", { rec: true })],
  ];
  for (const [id, value] of steps) {
    if (value) calls.set(id, value);
    else calls.delete(id);
    model.update(calls, new Set([id]));
    const fresh = recount(model, calls);
    assert.deepEqual(model.counts, fresh.counts);
    const sorted = (m) => [...m].sort((a, b) => (a[0] < b[0] ? -1 : 1));
    assert.deepEqual(sorted(model.queues), sorted(fresh.queues));
    assert.deepEqual(model.index.order, fresh.index.order);
  }
  assert.deepEqual(model.counts, { live: 3, ringing: 1, waiting: 0, held: 0, talking: 2, recording: 1 });
});

test("a scope keeps the wall to its queues", () => {
  const calls = new Map([
    ["a", call("a", { queue: "q1" })],
    ["b", call("b", { queue: "q2" })],
    ["c", call("c")],
  ]);
  const model = new WallModel({ names, scope: new Set(["q2"]) });
  model.rebuild(calls);
  assert.deepEqual(model.index.order, ["b"]);
  assert.equal(model.counts.live, 1);
  calls.set("a", call("a", { queue: "q2", state: "held" })); // moved into scope
  model.update(calls, new Set(["a"]));
  assert.deepEqual(model.index.order, ["a", "b"]); // held before talking
  assert.equal(model.counts.held, 1);
});

test("the grid's groups are queues by name, then calls without a queue, waiting first", () => {
  const calls = new Map([
    ["n1", call("n1")],
    ["s1", call("s1", { queue: "q2", start: "2026-01-01T00:00:01Z" })],
    ["s2", call("s2", { queue: "q2", answered: false, agent: false, start: "2026-01-01T00:00:05Z" })],
    ["a1", call("a1", { queue: "q1" })],
  ]);
  const model = new WallModel({ names });
  model.rebuild(calls);
  assert.deepEqual(model.index.order, ["a1", "s2", "s1", "n1"]);
  assert.deepEqual(
    model.groups().map((g) => [g.ext, g.start, g.end]),
    [
      ["q1", 0, 1],
      ["q2", 1, 3],
      ["", 3, 4],
    ],
  );
});

test("the longest wait and hold", () => {
  const calls = new Map([
    ["w1", call("w1", { queue: "q1", answered: false, agent: false, start: "2026-01-01T00:00:00Z" })],
    ["w2", call("w2", { queue: "q1", answered: false, agent: false, start: "2026-01-01T00:00:30Z" })],
    ["h1", call("h1", { state: "held", start: "2026-01-01T00:00:10Z" })],
  ]);
  const model = new WallModel({ names });
  model.rebuild(calls);
  const now = Date.parse("2026-01-01T00:01:00Z");
  const { wait, hold } = model.longest(calls, now);
  assert.equal(wait.call.id, "w1");
  assert.equal(wait.ms, 60_000);
  assert.equal(hold.call.id, "h1");
  assert.deepEqual([...model.queueWaits(calls, now)], [["q1", 60_000]]);
});

test("the grid uses the largest tiles that hold every call", () => {
  const vw = 19.2; // 1920 px wide
  const [w, h] = [1380, 780];
  const few = layout([3], w, h, vw);
  assert.equal(few.density.name, "xxl");
  assert.deepEqual(few.shown, [3]);
  const many = layout([60, 50, 40], w, h, vw);
  assert.notEqual(many.density.name, "xl");
  assert.deepEqual(many.shown, [60, 50, 40]);
});

test("a floor too big for the grid draws what fits, in proportion, and no more", () => {
  const vw = 19.2;
  const [w, h] = [1380, 780];
  const sizes = [2000, 400, 100, 5, 0, 2495];
  const plan = layout(sizes, w, h, vw);
  const small = DENSITIES[DENSITIES.length - 1];
  assert.equal(plan.density, small);
  const { cols, rows } = capacity(small, w, h, vw);
  const drawn = plan.shown.reduce((a, b) => a + b, 0);
  const heads = plan.shown.filter((n) => n > 0).length;
  const room = cols * rows;
  assert.ok(drawn + HEAD_CELLS * heads <= room, "no more than the grid holds");
  assert.ok(drawn + (HEAD_CELLS + 1) * heads === room, "the grid is full but for holes");
  plan.shown.forEach((n, i) => assert.ok(n <= sizes[i]));
  assert.ok(plan.shown[0] > plan.shown[2], "bigger groups get more rows");
  assert.ok(plan.shown[3] > 0, "every group that fits a row is shown");
});

test("share gives every group a heading and a tile while room lasts", () => {
  assert.deepEqual(share([100, 100, 100], 9), [2, 1, 0]);
  assert.deepEqual(share([5], 30), [5]);
  assert.deepEqual(share([90, 10], 26), [18, 2]);
});
