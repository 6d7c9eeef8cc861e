// The live store: the ONLY module that knows /ws/console/'s protocol
// (dashboard/protocol.py). It owns the socket, the floor (a Map of calls in
// their wire form), the worker's status, the clock offset and lag, and the
// commands under way. Views subscribe to it and are told what changed, at
// most once per animation frame. No DOM here: it runs in Node for tests.
//
// Protocol, in short:
// - `snapshot` arrives in `parts` frames (1..parts, in order); the floor is
//   the union of their calls as of frame `n`; it replaces the store when
//   the last part is in.
// - `delta` n is applied iff n === last + 1; n <= last is already known;
//   a gap or another epoch means: send one `resync`, drop everything until
//   a new snapshot (nothing is buffered: the snapshot supersedes it).
// - `time` is the server's clock (ms since 1970) when a frame was built.

/** Reconnection and timing policy (ms). */
export const POLICY = {
  reconnectMin: 500, // every delay is at least this
  reconnectFirst: 1000, // the first delay is at most this, then doubling…
  reconnectMax: 15000, // …up to this (full jitter in between)
  healthyAfter: 10000, // a connection this old resets the backoff
  snapshotWait: 10000, // no snapshot this long after asking: ask again
  commandDeadline: 45000, // a pending command hearing nothing is released
  behind: 2000, // frames older than this: the page is behind
  // A first snapshot whose clock is further behind ours than this is taken
  // for a cached one (the feed reuses snapshot texts on a quiet floor), and
  // the clocks are assumed to agree until a fresh frame says otherwise.
  staleSnapshot: 30000,
  // The worker beats every 5 s (telephony/worker/worker.py): no beat this
  // long and the page is stale even with its socket and the link up.
  beatTimeout: 15000,
  viewEvery: 30000, // re-tell the server which call is open (its TTL: 75 s)
};

/** ISO text as ms since 1970 (0 when absent or unreadable). */
export function parseMs(iso) {
  const ms = iso ? Date.parse(iso) : NaN;
  return Number.isNaN(ms) ? 0 : ms;
}

/** Reconnection delay for the attempt-th retry (0-based): full jitter
 *  between POLICY.reconnectMin and a cap doubling from reconnectFirst. */
export function backoffDelay(attempt, random = Math.random, policy = POLICY) {
  const cap = Math.min(policy.reconnectMax, policy.reconnectFirst * 2 ** attempt);
  return policy.reconnectMin + random() * Math.max(0, cap - policy.reconnectMin);
}

// The close codes of a console the server will not serve
// (dashboard/consumers.py): the page stops reconnecting and says why.
export const ACCESS_ENDED = 4401;
export const NOT_PERMITTED = 4403;
export const TOO_MANY_CONSOLES = 4429;
export const WALL_ENDED = 4410; // a wall's token revoked, expired or removed
const ENDINGS = {
  [ACCESS_ENDED]: "Your access ended: reload the page to log in again.",
  [NOT_PERMITTED]: "You may not watch the live floor: ask an administrator for a role.",
  [TOO_MANY_CONSOLES]: "Too many consoles are open for your user: close one, then reload this page.",
  [WALL_ENDED]: "This wall's link no longer opens it: ask an administrator for a new one.",
};

const LOST = "Connection lost before Switchboard answered; check the call before retrying.";
const SILENT = "No confirmation arrived; check the call before retrying.";
const OFFLINE = "Not connected to Switchboard; try again in a moment.";

function defaultNow() {
  // A monotonic clock anchored to the epoch: immune to the wall clock
  // being set while the page is open.
  return globalThis.performance ? performance.timeOrigin + performance.now() : Date.now();
}

function defaultSchedule(fn) {
  if (typeof requestAnimationFrame === "function") requestAnimationFrame(() => fn());
  else setTimeout(fn, 16);
}

function defaultRequestId() {
  // crypto.randomUUID needs a secure context (HTTPS or localhost).
  if (globalThis.crypto?.randomUUID) return crypto.randomUUID();
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

export class LiveStore {
  /**
   * @param {object} options
   * @param {string} options.url  the socket's URL (ws:// or wss://)
   * Everything else is injectable for tests: WebSocket, now, schedule,
   * setTimeout, clearTimeout, random, requestId, policy.
   */
  constructor({
    url,
    WebSocket: Socket = globalThis.WebSocket,
    now = defaultNow,
    schedule = defaultSchedule,
    setTimeout: later = globalThis.setTimeout.bind(globalThis),
    clearTimeout: cancel = globalThis.clearTimeout.bind(globalThis),
    random = Math.random,
    requestId = defaultRequestId,
    policy = POLICY,
  }) {
    Object.assign(this, { url, Socket, now, schedule, later, cancel, random, policy });
    this.newRequestId = requestId;

    /** @type {Map<string, object>} call id -> the call's wire form */
    this.calls = new Map();
    /** "idle" | "connecting" | "open" | "closed" (closed: retrying) | "ended"
   *  (access ended: not retrying) */
    this.connection = "idle";
    this.synced = false; // a complete snapshot, and no gap since
    this.loaded = false; // a floor has been shown at least once
    this.loading = null; // {parts, part} while a snapshot streams in
    this.worker = null; // {connected, error, since} as the server says
    this.offset = 0; // server clock - our clock (ms)
    this.lag = 0; // how late the latest frame arrived (ms)
    this.epoch = null;
    this.n = 0;
    // The floor's other collections (dashboard/protocol.py), by key:
    this.agents = new Map(); // extension id -> presence {ext, state, since, dnd, tel}
    this.alerts = new Map(); // alert id -> {id, kind, subject, subjectId, …}
    this.attention = new Map(); // call id -> {viewers: [user], pending: [{user, action}]}
    this.queues = new Map(); // queue extension id -> today's figures
    this.viewing = null; // the call this console has open (told to the server)
    this._staleSince = 0; // server ms when the page went stale (0: it is not)

    this._socket = null;
    this._attempt = 0;
    this._openedAt = 0;
    this._retry = null;
    this._snapshotTimer = null;
    this._part = null; // the snapshot being received
    this._offsetKnown = false; // measured from a fresh frame
    this._pending = new Map(); // requestId -> {sessionId, partyId, action, params, deadline}
    this._pendingBySession = new Map(); // sessionId -> requestId
    this._errors = new Map(); // sessionId -> the last command's failure
    this._subscribers = new Set();
    this._changed = new Set();
    this._all = false;
    this._status = false;
    this._kinds = new Set(); // "agents" | "alerts" | "attention" | "queues"
    this._notices = [];
    this._scheduled = false;
    this._stopped = false;
    this._viewTimer = null;
  }

  // --- reading ------------------------------------------------------------

  get size() {
    return this.calls.size;
  }

  get(id) {
    return this.calls.get(id);
  }

  /** The server's clock now (ms since 1970), for timers. */
  serverNow() {
    return this.now() + this.offset;
  }

  /** The command under way on a call: {requestId, action, …} or undefined. */
  pendingFor(sessionId) {
    const requestId = this._pendingBySession.get(sessionId);
    return requestId === undefined ? undefined : { requestId, ...this._pending.get(requestId) };
  }

  /** Why the last command on a call failed ("" when it did not). */
  errorFor(sessionId) {
    return this._errors.get(sessionId) || "";
  }

  /**
   * Whether what the page shows may be wrong, and why: the page's socket
   * is down or catching up, the worker's RingCentral link is down, or the
   * worker has not been heard from (it beats every few seconds, so a quiet
   * floor is not stale). {stale, since (server ms), reason}.
   */
  staleness() {
    const reason = this._staleReason();
    if (!reason) {
      this._staleSince = 0;
      return { stale: false, since: 0, reason: "" };
    }
    if (!this._staleSince) {
      const linkDown = this.worker && this.worker.connected === false && parseMs(this.worker.since);
      this._staleSince = linkDown || this.serverNow();
    }
    return { stale: true, since: this._staleSince, reason };
  }

  _staleReason() {
    if (!this.loaded) return "";
    if (this.connection === "ended") return this.endedReason;
    if (this.connection !== "open") return "The connection to Switchboard is down.";
    // (Catching up after a gap takes a moment and the header says so:
    // not worth a banner.)
    const worker = this.worker;
    if (!worker?.connected) {
      return `The link to RingCentral is down${worker?.error ? `: ${worker.error}` : "."}`;
    }
    const beat = parseMs(worker.beat);
    if (beat && this.serverNow() - beat > this.policy.beatTimeout) {
      return "The telephony worker has not been heard from.";
    }
    return "";
  }

  /** Seconds since RingCentral's newest event (null: none yet). */
  eventAge() {
    const at = parseMs(this.worker?.lastEventAt);
    return at ? Math.max(0, Math.round((this.serverNow() - at) / 1000)) : null;
  }

  /** Tell the server which call this console has open (null: none), so
   *  other supervisors see it; repeated while it stays open. */
  view(sessionId) {
    const id = sessionId || null;
    if (id === this.viewing) return;
    this.viewing = id;
    this._sendViewing();
  }

  _sendViewing() {
    this.cancel(this._viewTimer);
    this._send({ type: "viewing", sessionId: this.viewing });
    if (this.viewing) this._viewTimer = this.later(() => this._sendViewing(), this.policy.viewEvery);
  }

  /** Acknowledge an alert (every console sees who and when). */
  acknowledge(alertId) {
    if (!this._send({ type: "ack", alertId })) this._notice(OFFLINE);
  }

  /**
   * `fn(change)` after each batch of changes, at most once per animation
   * frame. change = {all, ids, status, kinds, notices}: `all` means the whole
   * floor may have changed (a snapshot); otherwise `ids` is the Set of
   * calls that changed, ended or whose command state changed; `status`
   * says the connection, worker or lag changed; `kinds` is the Set of other
   * collections that changed ("agents", "alerts", "attention", "queues";
   * every one after a snapshot; a call whose attention changed is in
   * `ids` too); `notices` are messages
   * for the supervisor that belong to no call. Returns an unsubscribe.
   */
  subscribe(fn) {
    this._subscribers.add(fn);
    return () => this._subscribers.delete(fn);
  }

  // --- the socket ---------------------------------------------------------

  start() {
    this._stopped = false;
    if (!this._socket) this._connect();
    return this;
  }

  stop() {
    this._stopped = true;
    this.cancel(this._retry);
    this.cancel(this._snapshotTimer);
    const socket = this._socket;
    this._socket = null;
    if (socket) socket.close();
  }

  _connect() {
    this._retry = null;
    this.connection = this.loaded || this._attempt ? "closed" : "connecting";
    this._markStatus();
    const socket = new this.Socket(this.url);
    this._socket = socket;
    socket.onopen = () => {
      if (socket !== this._socket) return;
      this.connection = "open";
      this._openedAt = this.now();
      this._markStatus();
      this._armSnapshotTimer();
      if (this.viewing) this._sendViewing();
    };
    socket.onmessage = (event) => {
      if (socket === this._socket) this._receive(event.data);
    };
    socket.onclose = (event) => {
      if (socket !== this._socket) return;
      if (ENDINGS[event?.code]) return this._ended(ENDINGS[event.code]);
      this._closed();
    };
  }

  _closed() {
    this._socket = null;
    this.cancel(this._snapshotTimer);
    if (this._openedAt && this.now() - this._openedAt >= this.policy.healthyAfter) {
      this._attempt = 0;
    }
    this._openedAt = 0;
    this.connection = "closed";
    this.synced = false;
    this.loading = null;
    this._part = null;
    // Replies to this socket are lost: nothing pending can resolve now.
    for (const requestId of [...this._pending.keys()]) this._release(requestId, LOST);
    this._markStatus();
    if (this._stopped) return;
    const delay = backoffDelay(this._attempt, this.random, this.policy);
    this._attempt += 1;
    this._retry = this.later(() => this._connect(), delay);
  }

  /** The server closed this console because the user's access ended
   *  (logout, deactivation, new password): no reconnection; the error frame
   *  before the close said why (a notice). */
  _ended(reason) {
    this.endedReason = reason;
    this._stopped = true;
    this._socket = null;
    this.cancel(this._snapshotTimer);
    this.connection = "ended";
    this.synced = false;
    for (const requestId of [...this._pending.keys()]) this._release(requestId, LOST);
    this._markStatus();
  }

  _send(message) {
    const socket = this._socket;
    if (!socket || socket.readyState !== 1) return false; // 1: OPEN
    socket.send(JSON.stringify(message));
    return true;
  }

  _armSnapshotTimer() {
    // No snapshot yet (the worker may be starting, or a resync request
    // was dropped): ask again now and then.
    this.cancel(this._snapshotTimer);
    this._snapshotTimer = this.later(() => {
      if (this.synced || this._part) return;
      this._send({ type: "resync" });
      this._armSnapshotTimer();
    }, this.policy.snapshotWait);
  }

  // --- frames -------------------------------------------------------------

  _receive(text) {
    let frame;
    try {
      frame = JSON.parse(text);
    } catch {
      return;
    }
    const at = this.now();
    switch (frame.type) {
      case "snapshot":
        return this._snapshotPart(frame, at);
      case "delta":
        return this._delta(frame, at);
      case "worker_status":
        this._clock(frame.time, at);
        return this._setWorker(frame.worker);
      case "command_result":
        // Accepted: stay pending until the telephony event confirms it.
        if (!frame.ok) this._release(frame.requestId, frame.message);
        return;
      case "command_confirmed":
        return this._release(frame.requestId, frame.confirmed ? "" : frame.message);
      case "access":
        // What this supervisor may do now (an administrator changed it).
        return this.onAccess?.({ actions: frame.actions, acknowledge: frame.acknowledge });
      case "error":
        if (frame.requestId && this._pending.has(frame.requestId)) {
          return this._release(frame.requestId, frame.message);
        }
        return this._notice(frame.message);
      default:
        // Frames of one page only (the wall's settings): its own hook.
        return this.onFrame?.(frame);
    }
  }

  _snapshotPart(frame, at) {
    let part = this._part;
    const fresh = frame.part === 1;
    if (!fresh && !(part && part.epoch === frame.epoch && part.n === frame.n && part.next === frame.part)) {
      // A part out of order, or of another snapshot: start over.
      this._part = null;
      this.loading = null;
      this._resync();
      return;
    }
    if (fresh) {
      part = this._part = {
        epoch: frame.epoch,
        n: frame.n,
        next: 1,
        time: frame.time,
        at,
        calls: new Map(),
        agents: new Map(),
        alerts: new Map(),
        attention: new Map(),
        queues: new Map(),
      };
      this.synced = false;
    }
    // Parts are parsed and indexed as they come, not held as text.
    for (const call of frame.calls) part.calls.set(call.id, call);
    for (const agent of frame.agents || []) part.agents.set(agent.ext, agent);
    for (const alert of frame.alerts || []) part.alerts.set(alert.id, alert);
    for (const seen of frame.attention || []) {
      if (seen.viewers.length || seen.pending.length) part.attention.set(seen.id, seen);
    }
    for (const queue of frame.queues || []) part.queues.set(queue.ext, queue);
    part.next += 1;
    this.loading = { part: frame.part, parts: frame.parts };
    this._markStatus();
    if (frame.part < frame.parts) return;

    this._part = null;
    this.loading = null;
    this.cancel(this._snapshotTimer);
    this.calls = part.calls;
    this.agents = part.agents;
    this.alerts = part.alerts;
    this.attention = part.attention;
    this.queues = part.queues;
    for (const kind of ["agents", "alerts", "attention", "queues"]) this._kinds.add(kind);
    this.epoch = part.epoch;
    this.n = part.n;
    this.synced = true;
    this.loaded = true;
    this.lag = 0;
    this._snapshotClock(part.time, part.at);
    this._setWorker(frame.worker);
    // Calls that are gone settle whatever was pending on them; errors of
    // ended calls are forgotten.
    for (const [sessionId, requestId] of [...this._pendingBySession]) {
      if (!this.calls.has(sessionId)) this._drop(requestId);
    }
    for (const sessionId of [...this._errors.keys()]) {
      if (!this.calls.has(sessionId)) this._errors.delete(sessionId);
    }
    this._all = true;
    this._markStatus();
  }

  _delta(frame, at) {
    if (!this.synced) return; // waiting for a snapshot: it supersedes this
    if (frame.epoch !== this.epoch) return this._resync();
    if (frame.n <= this.n) return; // already in the snapshot
    if (frame.n > this.n + 1) return this._resync(); // a frame was lost
    this.n = frame.n;
    this._clock(frame.time, at);
    for (const call of frame.calls) {
      this.calls.set(call.id, call);
      this._mark(call.id);
    }
    for (const id of frame.ended) {
      this.calls.delete(id);
      this._errors.delete(id);
      // An ended call settles whatever was pending on it (End, Transfer).
      const requestId = this._pendingBySession.get(id);
      if (requestId !== undefined) this._drop(requestId);
      this._mark(id);
    }
    this._others(frame);
  }

  /** A delta's agents, alerts, attention and queue figures. */
  _others(frame) {
    if (frame.agents?.length) {
      for (const agent of frame.agents) this.agents.set(agent.ext, agent);
      this._kind("agents");
    }
    if (frame.alerts?.length || frame.cleared?.length) {
      for (const alert of frame.alerts || []) this.alerts.set(alert.id, alert);
      for (const id of frame.cleared || []) this.alerts.delete(id);
      this._kind("alerts");
    }
    if (frame.attention?.length) {
      for (const seen of frame.attention) {
        if (seen.viewers.length || seen.pending.length) this.attention.set(seen.id, seen);
        else this.attention.delete(seen.id);
        if (this.calls.has(seen.id)) this._mark(seen.id);
      }
      this._kind("attention");
    }
    if (frame.queues?.length) {
      for (const queue of frame.queues) this.queues.set(queue.ext, queue);
      this._kind("queues");
    }
  }

  _kind(kind) {
    this._kinds.add(kind);
    this._flushSoon();
  }

  _resync() {
    // Once per gap: until a snapshot completes, deltas are dropped, so no
    // second gap is seen; the snapshot timer covers a lost request.
    this.synced = false;
    this._markStatus();
    this._send({ type: "resync" });
    this._armSnapshotTimer();
  }

  _setWorker(worker) {
    if (!worker) return;
    const old = this.worker;
    // Kept whole (its beat and newest event move every few seconds: the
    // header reads them once a second); views are told only of changes
    // they show.
    this.worker = worker;
    if (old && old.connected === worker.connected && old.error === worker.error && old.since === worker.since) {
      return;
    }
    this._markStatus();
  }

  // --- clock --------------------------------------------------------------
  //
  // A frame built at server time T and read at our time L gives
  // offset >= T - L (it cannot arrive before it was built): the largest
  // such sample is the best estimate, and the frame that gives it arrived
  // fastest. Lag is how much later than that a frame is read.

  _snapshotClock(time, at) {
    const sample = time - at;
    if (this._offsetKnown) {
      this.offset = Math.max(this.offset, sample);
    } else if (sample > -this.policy.staleSnapshot) {
      this.offset = sample;
      this._offsetKnown = true;
    } else {
      this.offset = 0; // provisional: the snapshot may be a cached one
    }
  }

  _clock(time, at) {
    if (typeof time !== "number") return;
    const sample = time - at;
    if (!this._offsetKnown || sample > this.offset) {
      this.offset = sample;
      this._offsetKnown = true;
    }
    const lag = Math.max(0, at + this.offset - time);
    const before = this.lag > this.policy.behind ? Math.round(this.lag / 1000) : 0;
    const after = lag > this.policy.behind ? Math.round(lag / 1000) : 0;
    this.lag = lag;
    if (before !== after) this._markStatus();
  }

  // --- commands -----------------------------------------------------------

  /**
   * Send an action on a call's party. Returns the requestId, or null when
   * it could not be sent (not connected; a notice says so) or when a
   * command is already under way on that call.
   */
  command(sessionId, partyId, action, params) {
    if (this._pendingBySession.has(sessionId)) return null;
    const requestId = this.newRequestId();
    const message = { type: "command", requestId, action, sessionId, partyId };
    if (params) message.params = params;
    if (!this._send(message)) {
      this._notice(OFFLINE);
      return null;
    }
    const deadline = this.later(() => this._release(requestId, SILENT), this.policy.commandDeadline);
    this._pending.set(requestId, { sessionId, partyId, action, params, deadline });
    this._pendingBySession.set(sessionId, requestId);
    this._errors.delete(sessionId);
    this._mark(sessionId);
    return requestId;
  }

  /** Release a pending command; a non-empty `text` is its failure. */
  _release(requestId, text) {
    const request = this._pending.get(requestId);
    if (!request) return;
    this._drop(requestId);
    if (text) {
      if (this.calls.has(request.sessionId)) this._errors.set(request.sessionId, text);
      this._notice(text);
    }
  }

  _drop(requestId) {
    const request = this._pending.get(requestId);
    if (!request) return;
    this.cancel(request.deadline);
    this._pending.delete(requestId);
    if (this._pendingBySession.get(request.sessionId) === requestId) {
      this._pendingBySession.delete(request.sessionId);
    }
    this._mark(request.sessionId);
  }

  // --- batching -----------------------------------------------------------

  _notice(text) {
    if (!text) return;
    this._notices.push(text);
    this._flushSoon();
  }

  _mark(id) {
    if (this._all) return;
    this._changed.add(id);
    // A long backlog (a hidden tab gets no animation frames): redraw all.
    if (this._changed.size > 1000 && this._changed.size > this.calls.size / 2) {
      this._all = true;
      this._changed.clear();
    }
    this._flushSoon();
  }

  _markStatus() {
    this._status = true;
    this._flushSoon();
  }

  _flushSoon() {
    if (this._scheduled) return;
    this._scheduled = true;
    this.schedule(() => this.flush());
  }

  /** Tell subscribers what changed since the last flush (normally called
   *  by the scheduler, once per animation frame). */
  flush() {
    this._scheduled = false;
    if (!this._all && !this._changed.size && !this._status && !this._kinds.size && !this._notices.length) {
      return;
    }
    const change = {
      all: this._all,
      ids: this._all ? new Set() : this._changed,
      status: this._status,
      kinds: this._kinds,
      notices: this._notices,
    };
    this._all = false;
    this._changed = new Set();
    this._status = false;
    this._kinds = new Set();
    this._notices = [];
    for (const fn of this._subscribers) {
      try {
        fn(change);
      } catch (error) {
        console.error("a view failed to render", error);
      }
    }
  }
}
