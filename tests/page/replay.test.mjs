// Floor replay's store (static/dashboard/replay.js) in Node: seeking loads
// the floor at a moment, playing asks for the floor's time that passed at
// the chosen speed, a seek during a request wins, and nothing goes back.
import assert from "node:assert/strict";
import { test } from "node:test";

import { ReplayStore } from "../../static/dashboard/replay.js";
import { describeConnection } from "../../static/dashboard/header.js";

const T0 = Date.parse("2026-11-29T10:00:00Z");
const call = (id, state) => ({ id, state, start: "2026-11-29T09:59:00.000Z" });

function harness() {
  const asked = [];
  const answers = [];
  let real = 0;
  const store = new ReplayStore({
    window: { first: T0, last: T0 + 600_000 },
    at: T0 + 60_000,
    realNow: () => real,
    schedule: (fn) => fn(),
    fetchJson: (url) => {
      asked.push(url);
      return new Promise((resolve) => answers.push(resolve));
    },
  });
  return {
    store,
    asked,
    answer: async (body) => {
      answers.shift()(body);
      await new Promise((resolve) => setImmediate(resolve));
    },
    advance: (ms) => {
      real += ms;
    },
  };
}

test("seeking shows the floor at that moment, on the replay's clock", async () => {
  const h = harness();
  const loading = h.store.seek(T0 + 60_000);
  assert.deepEqual(h.asked, [`/replay/floor.json?at=${T0 + 60_000}`]);
  await h.answer({ time: T0 + 60_000, calls: [call("s-1", "held")] });
  await loading;
  assert.equal(h.store.get("s-1").state, "held");
  assert.equal(h.store.serverNow(), T0 + 60_000); // timers read the replay's time
  assert.equal(describeConnection(h.store).text, "Replay paused");
  assert.equal(h.store.staleness().stale, false);
  assert.equal(h.store._send({ type: "command" }), false); // read-only
});

test("playing at 10x asks for the floor's time that passed and applies it", async () => {
  const h = harness();
  const loading = h.store.seek(T0 + 60_000);
  await h.answer({ time: T0 + 60_000, calls: [call("s-1", "talking"), call("s-2", "ringing")] });
  await loading;
  h.store.setSpeed(10);
  h.store.play();
  assert.equal(describeConnection(h.store).text, "Replay 10×");
  h.advance(1_000); // one real second: ten of the floor's
  const step = h.store._step();
  assert.equal(h.asked[1], `/replay/changes.json?after=${T0 + 60_000}&until=${T0 + 70_000}`);
  h.store._step(); // one request at a time
  assert.equal(h.asked.length, 2);
  await h.answer({ time: T0 + 70_000, calls: [call("s-1", "held")], ended: ["s-2"] });
  await step;
  assert.equal(h.store.get("s-1").state, "held");
  assert.equal(h.store.get("s-2"), undefined);
  assert.equal(h.store.loadedUntil, T0 + 70_000);
});

test("a seek while a step is under way wins over the step's answer", async () => {
  const h = harness();
  const first = h.store.seek(T0 + 60_000);
  await h.answer({ time: T0 + 60_000, calls: [call("s-1", "talking")] });
  await first;
  h.store.play();
  h.advance(5_000);
  const step = h.store._step();
  const again = h.store.seek(T0 + 300_000);
  await h.answer({ time: T0 + 65_000, calls: [call("s-1", "held")], ended: [] }); // late
  await step;
  await h.answer({ time: T0 + 300_000, calls: [call("s-9", "ringing")] });
  await again;
  assert.deepEqual([...h.store.calls.keys()], ["s-9"]);
  assert.equal(h.store.loadedUntil, T0 + 300_000);
});
