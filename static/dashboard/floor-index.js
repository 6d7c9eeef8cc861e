// The floor's order and search, kept incrementally: a view that shows calls
// in a stable order (oldest first: by `start`, then id) and filtered by a
// search owns one FloorIndex and feeds it the store's changes. A delta
// costs O(changed × log n) lookups plus array moves; nothing is re-sorted
// and nothing is searched again but the calls that changed. No DOM.

/** The sort key: ISO times sort as text; the id breaks ties (unique). */
export function sortKey(call) {
  return `${call.start || ""}\u0001${call.id}`;
}

/** A query's test on a call's search text (lowercase substring; a query of
 *  phone characters only is also matched as bare digits). */
export function matcher(query) {
  const q = query.trim().toLowerCase();
  if (!q) return null;
  const digits = /^[\d\s()+.\-]+$/.test(q) ? q.replace(/\D/g, "") : "";
  if (digits.length >= 2 && digits !== q) {
    return (text) => text.includes(q) || text.includes(digits);
  }
  return (text) => text.includes(q);
}

export class FloorIndex {
  /**
   * @param {(call) => string} searchText  lowercase text a search looks in
   * @param {(call) => string} key  the order (sortKey: oldest first)
   */
  constructor(searchText, key = sortKey) {
    this.searchText = searchText;
    this.sortKey = key;
    this.filter = null; // the filters' test on a call (null: none)
    this.version = 0; // counts changes of the shown list
    this.calls = new Map(); // the store's calls, as last given
    this.keys = new Map(); // id -> sort key
    // id -> search text: a cache, filled while a search is active (no
    // search, no cost), emptied for a call when it changes.
    this.texts = new Map();
    this.order = []; // every id, by key
    this.query = "";
    this.test = null; // the query's test, null without a query
    this.matches = null; // ids that match, by key (null without a query)
    this.matchSet = null;
  }

  /** The ids shown, in order (every call without a query). */
  get shown() {
    return this.matches || this.order;
  }

  get length() {
    return this.shown.length;
  }

  /** Rebuild from every call (a snapshot). */
  rebuild(calls) {
    this.calls = calls;
    this.keys.clear();
    this.texts.clear();
    const rows = [];
    for (const [id, call] of calls) {
      const key = this.sortKey(call);
      this.keys.set(id, key);
      rows.push([key, id]);
    }
    rows.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
    this.order = rows.map((row) => row[1]);
    this._filter();
  }

  /** Apply changed ids: present in `calls` means added or updated, absent
   *  means ended. Returns true when the shown order changed. */
  update(calls, ids) {
    this.calls = calls;
    let moved = false;
    for (const id of ids) {
      const call = calls.get(id);
      moved = (call ? this._upsert(id, call) : this._remove(id)) || moved;
    }
    return moved;
  }

  /** Recompute every search text (the directory changed). */
  refreshTexts() {
    this.texts.clear();
    this._filter();
  }

  /** Another order (sort, grouping): rebuilds. */
  setOrder(key) {
    this.sortKey = key;
    this.rebuild(this.calls);
  }

  /** The filters' test (null: none); refilters every call. */
  setFilter(test) {
    this.filter = test;
    this._filter();
  }

  /** Set the search; returns true when it changed. */
  setQuery(query) {
    if (query === this.query) return false;
    this.query = query;
    this._filter();
    return true;
  }

  /** Where the call with this key is, or would be, in the shown order. */
  lowerBound(key) {
    return this._lowerBound(this.shown, key);
  }

  keyOf(id) {
    return this.keys.get(id);
  }

  // --- internals ----------------------------------------------------------

  _filter() {
    this.version += 1;
    const search = matcher(this.query);
    const filter = this.filter;
    if (!search && !filter) {
      this.test = null;
      this.matches = null;
      this.matchSet = null;
      return;
    }
    // The search is tested by id (its text is cached), the filters on the call.
    this.test = (id) =>
      (!filter || filter(this.calls.get(id))) && (!search || search(this._text(id)));
    const test = this.test;
    this.matches = this.order.filter((id) => test(id));
    this.matchSet = new Set(this.matches);
  }

  _upsert(id, call) {
    this.version += 1;
    const key = this.sortKey(call);
    const old = this.keys.get(id);
    this.texts.delete(id);
    const match = this.test ? this.test(id) : true;
    if (old === key) {
      // Same place in the order; only its match may have changed.
      if (!this.test || match === this.matchSet.has(id)) return false;
      if (match) this._insert(this.matches, id, key);
      else this._delete(this.matches, key);
      match ? this.matchSet.add(id) : this.matchSet.delete(id);
      return true;
    }
    if (old !== undefined) this._removeKeyed(id, old);
    this.keys.set(id, key);
    this._insert(this.order, id, key);
    if (this.test && match) {
      this._insert(this.matches, id, key);
      this.matchSet.add(id);
    }
    return !this.test || match || old !== undefined;
  }

  _text(id) {
    let text = this.texts.get(id);
    if (text === undefined) {
      text = this.searchText(this.calls.get(id));
      this.texts.set(id, text);
    }
    return text;
  }

  _remove(id) {
    this.version += 1;
    const key = this.keys.get(id);
    if (key === undefined) return false;
    const shown = !this.test || this.matchSet.has(id);
    this._removeKeyed(id, key);
    this.keys.delete(id);
    this.texts.delete(id);
    return shown;
  }

  _removeKeyed(id, key) {
    this._delete(this.order, key);
    if (this.matchSet?.delete(id)) this._delete(this.matches, key);
  }

  _lowerBound(list, key) {
    let lo = 0;
    let hi = list.length;
    const keys = this.keys;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (keys.get(list[mid]) < key) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  _insert(list, id, key) {
    const at = this._lowerBound(list, key);
    // Appending is the common case (new calls are the newest).
    if (at === list.length) list.push(id);
    else list.splice(at, 0, id);
  }

  _delete(list, key) {
    const at = this._lowerBound(list, key);
    if (at < list.length && this.keys.get(list[at]) === key) list.splice(at, 1);
  }
}
