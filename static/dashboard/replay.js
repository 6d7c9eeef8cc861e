// Floor replay: the console's live store fed from the call journal instead
// of a WebSocket (dashboard/replay.py). The page is the console in replay
// mode: the same views, no buttons, and a replay bar (play/pause, speed,
// a scrubber over the journal's window). Its clock is the replay's: the
// floor's timers show the time being replayed, not now.
//
// Seeking loads the floor at that moment (/replay/floor.json); playing
// asks, every STEP_MS of real time, for the changes of the floor's time
// that passed (/replay/changes.json), at most one request at a time, and
// applies them as one numbered delta, as the live feed would.

import { LiveStore } from "./live.js";
import { clockText } from "./panels.js";

export const SPEEDS = [1, 2, 5, 10, 30, 60];
const STEP_MS = 250;

async function getJson(url) {
  const response = await fetch(url, { headers: { Accept: "application/json" } });
  if (!response.ok) throw new Error(`${url}: ${response.status}`);
  return response.json();
}

/** The replay's position as a date and time the supervisor reads. */
export function replayLabel(ms) {
  const date = new Date(ms);
  return `${date.toLocaleDateString([], { day: "numeric", month: "short" })} ${clockText(date.toISOString())}`;
}

export class ReplayStore extends LiveStore {
  /**
   * @param {object} o
   * @param {{first: number|null, last: number|null}} o.window  the journal's (ms)
   * @param {number} [o.at]  where to start (ms); default: ten minutes before the end
   * @param {(url: string) => Promise<object>} [o.fetchJson]
   * @param {() => number} [o.realNow]  a monotonic clock (ms)
   */
  constructor({ window, at, fetchJson = getJson, realNow = () => performance.now(), ...rest }) {
    super({ url: "", ...rest });
    this.window = window;
    this.fetchJson = fetchJson;
    this.realNow = realNow;
    this.speed = 1;
    this.playing = false;
    this.position = at ?? Math.max(window.first ?? 0, (window.last ?? 0) - 10 * 60_000);
    this.loadedUntil = this.position; // the floor shown includes changes up to here
    this._anchor = { real: realNow(), replay: this.position };
    this._epochs = 0;
    this._busy = false;
    this.onMove = null; // told of the position (the bar redraws)
    this.now = () => this.clock();
    this.connection = "open";
    this.worker = { connected: true, error: null, since: null };
  }

  /** The floor's time being replayed now (ms). */
  clock() {
    if (!this.playing) return this.position;
    const replay = this._anchor.replay + (this.realNow() - this._anchor.real) * this.speed;
    return Math.min(replay, this.window.last ?? replay);
  }

  get replaying() {
    return true;
  }

  start() {
    this.seek(this.position);
    this._timer = setInterval(() => this._step(), STEP_MS);
    return this;
  }

  stop() {
    clearInterval(this._timer);
  }

  /** Show the floor as it was at `ms` (keeps playing if it was). */
  async seek(ms) {
    // Not held to the window the page was drawn with: the journal grows
    // while the page is open, and the answer says its bounds now.
    this.position = Math.max(ms, this.window.first ?? ms);
    this._anchor = { real: this.realNow(), replay: this.position };
    const epoch = `replay-${++this._epochs}`;
    this._loading = epoch;
    const body = await this.fetchJson(`/replay/floor.json?at=${Math.round(this.position)}`);
    if (this._loading !== epoch) return; // sought again meanwhile
    if (body.last) this.window = { first: body.first, last: body.last }; // it grows
    this.loadedUntil = body.time;
    this._apply({
      type: "snapshot",
      epoch,
      n: 0,
      part: 1,
      parts: 1,
      time: body.time,
      worker: { connected: true, error: null, since: null, beat: body.time, lastEventAt: body.time },
      calls: body.calls,
      agents: [],
      alerts: [],
      attention: [],
      queues: [],
    });
    this._loading = null;
    this.onMove?.(this.position);
  }

  play() {
    if (this.playing) return;
    this._anchor = { real: this.realNow(), replay: this.position };
    this.playing = true;
    this._moved();
  }

  _moved() {
    this._markStatus(); // the header says playing, paused, the speed
    this.onMove?.(this.position);
  }

  pause() {
    if (!this.playing) return;
    this.position = this.clock();
    this.playing = false;
    this._moved();
  }

  setSpeed(speed) {
    this.position = this.clock();
    this._anchor = { real: this.realNow(), replay: this.position };
    this.speed = speed;
    this._moved();
  }

  async _step() {
    if (!this.playing || this._busy || this._loading || !this.synced) return;
    const until = Math.round(this.clock());
    if (until >= (this.window.last ?? until) && until <= this.loadedUntil) {
      this.pause(); // the end of what the journal holds
      return;
    }
    if (until <= this.loadedUntil) return;
    this._busy = true;
    const epoch = this.epoch;
    try {
      const after = this.loadedUntil;
      const body = await this.fetchJson(`/replay/changes.json?after=${after}&until=${until}`);
      if (this.epoch !== epoch || this._loading) return; // sought meanwhile
      this.loadedUntil = body.time;
      this._apply({
        type: "delta",
        epoch,
        n: this.n + 1,
        time: body.time,
        calls: body.calls,
        ended: body.ended,
        agents: [],
        alerts: [],
        cleared: [],
        attention: [],
        queues: [],
      });
      this.worker = { ...this.worker, beat: body.time, lastEventAt: body.time };
      this.position = this.clock();
      this.onMove?.(this.position);
    } catch {
      this._notice("Could not read the journal just now; retrying.");
    } finally {
      this._busy = false;
    }
  }

  _apply(frame) {
    this._receive(JSON.stringify(frame));
  }

  /** Replays are never stale: the page says what time it shows instead. */
  staleness() {
    return { stale: false, since: 0, reason: "" };
  }

  _send() {
    return false; // nothing goes back: a replay is read-only
  }

  _resync() {
    this.seek(this.clock());
  }
}

/** The replay bar: play/pause, speed, scrubber, the time shown. */
export function replayBar(bar, store) {
  const play = bar.querySelector(".replay-play");
  const speed = bar.querySelector(".replay-speed");
  const scrub = bar.querySelector(".replay-scrub");
  const shown = bar.querySelector(".replay-time");
  for (const s of SPEEDS) speed.add(new Option(`${s}×`, String(s)));
  let dragging = false;
  const draw = () => {
    const at = store.clock();
    scrub.min = String(store.window.first ?? 0);
    scrub.max = String(store.window.last ?? 0);
    play.textContent = store.playing ? "Pause" : "Play";
    play.setAttribute("aria-pressed", String(store.playing));
    if (!dragging) scrub.value = String(Math.round(at));
    shown.textContent = replayLabel(at);
  };
  store.onMove = draw;
  play.addEventListener("click", () => (store.playing ? store.pause() : store.play()));
  speed.addEventListener("change", () => store.setSpeed(Number(speed.value)));
  scrub.addEventListener("input", () => {
    dragging = true;
    shown.textContent = replayLabel(Number(scrub.value));
  });
  scrub.addEventListener("change", () => {
    dragging = false;
    store.seek(Number(scrub.value));
  });
  setInterval(draw, 500);
  draw();
}
