// The live call wall's figures, kept incrementally from the store's changes
// (live.js): what each call counts as (waiting in queue, ringing, talking,
// on hold; recording), the counts, the calls waiting and held (for the
// longest of each), each queue's live and waiting calls, and the grid's
// order (FloorIndex: by queue, then waiting, held, ringing, talking, then
// oldest). A delta costs O(changed × log n); nothing is recounted. No DOM:
// Node runs its tests (tests/page/wall_model.test.mjs).

import { FloorIndex } from "./floor-index.js";
import { inQueue, recordingState } from "./calls.js";
import { isWaiting, queueOf } from "./filters.js";

/** What a call counts as on the wall. */
export function category(call) {
  if (isWaiting(call)) return "waiting";
  if (call.state === "held") return "held";
  if (call.state === "ringing" || call.state === "setup") return "ringing";
  return "talking"; // talking, parked, voicemail: a line in use
}

// The grid's order within a queue: what needs eyes first.
const RANK = { waiting: 0, held: 1, ringing: 2, talking: 3 };

/** The group a call is drawn in: its queue (by name), calls without a
 *  queue last. `names`: queue extension id -> name. */
export function groupKey(call, names) {
  const ext = queueOf(call);
  if (!ext) return "1\u0003";
  const name = names.get(ext) || call.queue?.name || ext;
  return `0${name.toLowerCase()}\u0002${ext}\u0003`;
}

export class WallModel {
  /**
   * @param {object} o
   * @param {Map<string, string>} o.names  queue extension id -> name
   * @param {Set<string> | null} o.scope  the queues shown (null: every call)
   */
  constructor({ names = new Map(), scope = null } = {}) {
    this.names = names;
    this.scope = scope;
    this.index = new FloorIndex(() => "", (call) => this.key(call));
    this.reset();
  }

  reset() {
    this.info = new Map(); // id -> {cat, rec, queue}
    this.counts = { live: 0, ringing: 0, waiting: 0, held: 0, talking: 0, recording: 0 };
    this.waiting = new Set();
    this.held = new Set();
    this.queues = new Map(); // queue ext -> {live, waiting}
  }

  /** Whether a call is on this wall (its queue in the scope). */
  inScope(call) {
    return !this.scope || this.scope.has(queueOf(call));
  }

  key(call) {
    return `${groupKey(call, this.names)}${RANK[category(call)]}${call.start || ""}\u0001${call.id}`;
  }

  /** Start again from every call (a snapshot, or another scope). */
  rebuild(calls) {
    this.reset();
    const scoped = new Map();
    for (const [id, call] of calls) {
      if (!this.inScope(call)) continue;
      scoped.set(id, call);
      this._add(id, call);
    }
    this.index.rebuild(scoped);
  }

  /** Apply the calls named by a change (present: added or updated; absent:
   *  ended). Returns whether the grid's order changed. */
  update(calls, ids) {
    const scoped = { get: (id) => this._scoped(calls.get(id)) };
    for (const id of ids) {
      this._remove(id);
      const call = scoped.get(id);
      if (call) this._add(id, call);
    }
    return this.index.update(scoped, ids);
  }

  _scoped(call) {
    return call && this.inScope(call) ? call : undefined;
  }

  _add(id, call) {
    const cat = category(call);
    const rec = recordingState(call.agent) === "active";
    const queue = queueOf(call);
    this.info.set(id, { cat, rec, queue });
    this.counts.live += 1;
    this.counts[cat] += 1;
    if (rec) this.counts.recording += 1;
    if (cat === "waiting") this.waiting.add(id);
    if (cat === "held") this.held.add(id);
    if (queue) {
      const q = this.queues.get(queue) || { live: 0, waiting: 0 };
      q.live += 1;
      if (cat === "waiting") q.waiting += 1;
      this.queues.set(queue, q);
    }
  }

  _remove(id) {
    const info = this.info.get(id);
    if (!info) return;
    this.info.delete(id);
    this.counts.live -= 1;
    this.counts[info.cat] -= 1;
    if (info.rec) this.counts.recording -= 1;
    this.waiting.delete(id);
    this.held.delete(id);
    if (info.queue) {
      const q = this.queues.get(info.queue);
      q.live -= 1;
      if (info.cat === "waiting") q.waiting -= 1;
      if (!q.live) this.queues.delete(info.queue);
    }
  }

  /** The call waiting longest and the one held longest at server time
   *  `now`: {wait: {call, ms} | null, hold: {call, ms} | null}. */
  longest(calls, now) {
    return {
      wait: this._longest(calls, this.waiting, (call) => call.start, now),
      hold: this._longest(calls, this.held, (call) => call.agent?.since || call.updated, now),
    };
  }

  _longest(calls, ids, since, now) {
    let best = null;
    for (const id of ids) {
      const call = calls.get(id);
      const at = call ? Date.parse(since(call) || "") : NaN;
      if (Number.isNaN(at)) continue;
      if (!best || now - at > best.ms) best = { call, ms: now - at };
    }
    return best;
  }

  /** Each queue's longest wait (ms) at server time `now`. */
  queueWaits(calls, now) {
    const out = new Map();
    for (const id of this.waiting) {
      const call = calls.get(id);
      const at = call ? Date.parse(call.start || "") : NaN;
      if (Number.isNaN(at)) continue;
      const ext = queueOf(call);
      out.set(ext, Math.max(out.get(ext) || 0, now - at));
    }
    return out;
  }

  /** The grid's groups in order: [{key, ext, start, end}] (positions in
   *  `index.order`), found by binary search on the group's key prefix. */
  groups() {
    const order = this.index.order;
    const out = [];
    let start = 0;
    while (start < order.length) {
      const key = this.index.keyOf(order[start]);
      const prefix = key.slice(0, key.indexOf("\u0003") + 1);
      const end = this.index.lowerBound(`${prefix}\uffff`);
      const ext = prefix === "1\u0003" ? "" : prefix.slice(prefix.indexOf("\u0002") + 1, -1);
      out.push({ key: prefix, ext, start, end });
      start = end;
    }
    return out;
  }
}

// --- the grid's layout --------------------------------------------------------

// Tile sizes (width, height in vw: the wall scales with the screen, 1080p
// or 4K alike), largest first; the grid uses the largest that holds every
// call, else the smallest with what does not fit counted as "+N more".
// From `m` on, calls are grouped by queue, each group led by a heading
// cell two tiles wide (a full row each would leave no room for tiles).
export const DENSITIES = [
  { name: "xxl", w: 23, h: 11.5, grouped: false },
  { name: "xl", w: 17, h: 8.2, grouped: false },
  { name: "l", w: 12.6, h: 6, grouped: false },
  { name: "m", w: 9.6, h: 4.4, grouped: true },
  { name: "s", w: 6.9, h: 3.2, grouped: true },
  { name: "xs", w: 4.8, h: 2.5, grouped: true },
];
export const GAP_VW = 0.45;
export const HEAD_CELLS = 2; // a group's heading takes this many tiles' room
// A heading that would start in a row's last cell goes to the next row,
// leaving a hole: count one cell more per group, so the grid never
// overflows (at worst a few cells stay empty at its end).
const HEAD_COST = HEAD_CELLS + 1;

/** Columns and rows of a density in a grid of `width` x `height` px at
 *  `vw` px per vw. */
export function capacity(density, width, height, vw) {
  const gap = GAP_VW * vw;
  const cols = Math.max(1, Math.floor((width + gap) / (density.w * vw + gap)));
  const rows = Math.max(1, Math.floor((height + gap) / (density.h * vw + gap)));
  return { cols, rows };
}

/**
 * How to draw groups of `sizes` calls (in order) in the grid: the density,
 * its columns, whether groups have headings, and per group how many tiles
 * are drawn (`shown`).
 */
export function layout(sizes, width, height, vw) {
  const total = sizes.reduce((a, b) => a + b, 0);
  const groups = sizes.filter((n) => n > 0).length;
  for (const density of DENSITIES) {
    const { cols, rows } = capacity(density, width, height, vw);
    const grouped = density.grouped && groups > 1;
    if (total + (grouped ? HEAD_COST * groups : 0) <= cols * rows) {
      return { density, cols, rows, grouped, shown: sizes.slice() };
    }
  }
  const density = DENSITIES[DENSITIES.length - 1];
  const { cols, rows } = capacity(density, width, height, vw);
  const grouped = groups > 1;
  return { density, cols, rows, grouped, shown: share(sizes, cols * rows, grouped) };
}

/** Tiles per group when not all fit in `slots`: biggest groups first, each
 *  its heading (when `grouped`) and one tile while room lasts, then the
 *  rest of the room in proportion to the groups' sizes. */
export function share(sizes, slots, grouped = sizes.length > 1) {
  const shown = sizes.map(() => 0);
  const order = sizes
    .map((n, i) => i)
    .filter((i) => sizes[i] > 0)
    .sort((a, b) => sizes[b] - sizes[a]);
  let left = slots;
  for (const i of order) {
    const cost = grouped ? HEAD_COST + 1 : 1;
    if (left < cost) break;
    shown[i] = 1;
    left -= cost;
  }
  const total = order.reduce((sum, i) => sum + (shown[i] ? sizes[i] : 0), 0) || 1;
  const spare = left;
  for (const pass of [true, false]) {
    for (const i of order) {
      if (!shown[i] || !left) continue;
      const fair = pass ? Math.floor((spare * sizes[i]) / total) : left;
      const extra = Math.min(sizes[i] - shown[i], fair, left);
      shown[i] += extra;
      left -= extra;
    }
  }
  return shown;
}
