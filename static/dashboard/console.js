// The console's bootstrap: one live store (live.js), the views that
// subscribe to it (the floor, the header), and the address bar (url.js).
// A new view (queues, agents, alerts) is one more subscriber to the same
// store: `store.subscribe(change => …)`, reading `store.calls`.

import { LiveStore } from "./live.js";
import { CallText } from "./calls.js";
import { FloorView } from "./floor.js";
import { Header } from "./header.js";
import { onBack, readParam, writeParams } from "./url.js";

const $ = (id) => document.getElementById(id);
const json = (id, fallback) => JSON.parse($(id)?.textContent || fallback);

// The action registry (telephony/actions.py page_registry) and the
// extension directory ({extensionId: {number, name}}), embedded in the page.
const text = new CallText({ directory: json("directory", "{}"), actions: json("actions", "[]") });

const scheme = location.protocol === "https:" ? "wss" : "ws";
const store = new LiveStore({ url: `${scheme}://${location.host}/ws/console/` });

const root = $("floor");
const floor = new FloorView({
  store,
  text,
  root,
  empty: $("empty"),
  canControl: root.dataset.canControl === "true",
  rowTemplate: $("row-template"),
  cardTemplate: $("card-template"),
});

const LAYOUTS = ["auto", "rows", "cards"];
const urlState = () => {
  const layout = readParam("layout", "auto");
  return { query: readParam("q"), layout: LAYOUTS.includes(layout) ? layout : "auto" };
};

const header = new Header({
  store,
  floor,
  status: $("worker-status"),
  count: $("call-count"),
  notice: $("notice"),
  search: $("search"),
  layout: document.querySelector(".layout-switch"),
  onQuery(query) {
    floor.setQuery(query);
    writeParams({ q: query.trim() ? query : "" });
  },
  onLayout(layout) {
    floor.setLayout(layout);
    // A deliberate choice: the back button undoes it.
    writeParams({ layout: layout === "auto" ? "" : layout }, { push: true });
  },
});

function restore() {
  const state = urlState();
  header.show(state);
  floor.setLayout(state.layout);
  floor.setQuery(state.query);
}
restore();
onBack(restore);

store.start();

// For the console in DevTools and for benchmarks: the store and the view.
window.switchboard = { store, floor, text };
