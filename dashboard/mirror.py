"""The live floor as one dashboard process knows it.

Each dashboard process keeps its own copy of the floor, built from ONE
snapshot of the worker and the changes the worker publishes anyway, so a
console's snapshot is answered here, from memory, and a stampede of
consoles costs the worker nothing (dashboard.feed drives this class).

The floor is five collections, each keyed: calls, agents' presence, alerts,
who is on each call (attention) and each queue's figures today. Every item
is kept as the JSON text of its wire form (dashboard.protocol): encoded
once per change, whatever the number of consoles, and joined into
snapshots and delta frames without encoding again. Items that changed since
the last frame are remembered (the latest state wins) until `take_delta`
numbers the next frame. Pure: no I/O, no Channels.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from dashboard import protocol
from telephony.broadcast import OVERSIGHT_KEYS

JsonDict = protocol.JsonDict


@dataclass(slots=True)
class _Collection:
    """One kind of item: its texts, and what changed or went since."""

    wire: Callable[[Any], JsonDict]
    key: str  # the item's key field in the server's view
    items: dict[str, str] = field(default_factory=dict)
    # Changed since the last frame: the text to send (a text that is sent
    # but not kept, such as a call nobody is on any more, lives only here).
    changed: dict[str, str] = field(default_factory=dict)
    removed: dict[str, None] = field(default_factory=dict)

    def put(self, item: Any, *, keep: bool = True) -> None:
        key, text = item[self.key], protocol.dumps(self.wire(item))
        if keep and self.items.get(key) == text:
            return
        if keep:
            self.items[key] = text
        else:
            self.items.pop(key, None)
        self.changed[key] = text
        self.removed.pop(key, None)

    def drop(self, key: str) -> None:
        if self.items.pop(key, None) is not None:
            self.changed.pop(key, None)
            self.removed[key] = None

    def replace(self, items: Iterable[Any], *, quietly: bool) -> None:
        """Become `items`; what differs counts as changed unless `quietly`."""
        fresh = {item[self.key]: item for item in items}
        if quietly:
            self.items = {k: protocol.dumps(self.wire(v)) for k, v in fresh.items()}
            return
        for key in [k for k in self.items if k not in fresh]:
            self.drop(key)
        for item in fresh.values():
            self.put(item)

    def take(self) -> tuple[list[str], list[str]]:
        texts = list(self.changed.values())
        removed = list(self.removed)
        self.changed.clear()
        self.removed.clear()
        return texts, removed


@dataclass(frozen=True, slots=True)
class Delta:
    """One frame's worth of changes: per collection, the changed items'
    texts; and the ids of calls that ended and of alerts cleared."""

    n: int
    texts: dict[str, list[str]]
    ended: list[str]
    cleared: list[str]


class FloorMirror:
    """The worker's floor, as wire texts, numbered in frames."""

    def __init__(self, *, masked: bool = False) -> None:
        # A masked copy (walls that mask numbers) keeps its calls in
        # protocol.masked_call_wire's form: encoded once, sent as is.
        self.masked = masked
        self.ready = False  # a worker snapshot has been loaded
        self.epoch: str | None = None  # the worker run the copy follows
        self.seq = 0  # the worker's last change applied
        self.frame = 0  # the last frame numbered by take_delta
        self.worker: JsonDict = {"connected": False, "error": None, "since": None}
        self.kinds: dict[str, _Collection] = {
            "calls": _Collection(
                protocol.masked_call_wire if masked else protocol.call_wire, "id"
            ),
            "agents": _Collection(protocol.agent_wire, "extension_id"),
            "alerts": _Collection(protocol.alert_wire, OVERSIGHT_KEYS["alert"]),
            "attention": _Collection(
                protocol.attention_wire, OVERSIGHT_KEYS["attention"]
            ),
            "queues": _Collection(protocol.queue_wire, OVERSIGHT_KEYS["queue"]),
        }

    def __len__(self) -> int:
        return len(self.kinds["calls"].items)

    @property
    def calls(self) -> dict[str, str]:
        return self.kinds["calls"].items

    def follows(self, epoch: str, seq: int) -> bool | None:
        """Whether a worker change numbered (epoch, seq) is the next one:
        True, None for one already applied, False for a gap or another run
        (then the copy must be reloaded from a worker snapshot)."""
        if not self.ready or epoch != self.epoch:
            return False
        if seq <= self.seq:
            return None
        return seq == self.seq + 1

    def apply(self, kind: str, item: Any, *, seq: int, gone: bool = False) -> None:
        """Apply the worker's next change (check `follows` first): an item
        of collection `kind`; `gone` for a call that ended or an alert
        cleared."""
        self.seq = seq
        collection = self.kinds[kind]
        if gone:
            collection.drop(item[collection.key])
            if kind == "calls":  # nobody is on an ended call any more
                self.kinds["attention"].items.pop(item["id"], None)
        elif kind == "attention" and not item["viewers"] and not item["pending"]:
            collection.put(item, keep=False)  # sent once, empty, then forgotten
        else:
            collection.put(item)

    def load(self, *, epoch: str, seq: int, worker: JsonDict, **items: Any) -> None:
        """Become the worker's snapshot (`items`: a list per collection).
        What differs from the copy so far is marked changed, so consoles
        catch up with one delta; the first load marks nothing (no console
        has seen anything yet)."""
        for kind, collection in self.kinds.items():
            collection.replace(items.get(kind, []), quietly=not self.ready)
        self.ready, self.epoch, self.seq, self.worker = True, epoch, seq, worker

    def take_delta(self) -> Delta | None:
        """Number the next frame from what changed since the last one."""
        if not any(c.changed or c.removed for c in self.kinds.values()):
            return None
        self.frame += 1
        texts, removed = {}, {}
        for kind, collection in self.kinds.items():
            texts[kind], removed[kind] = collection.take()
        return Delta(self.frame, texts, removed["calls"], removed["alerts"])

    def snapshot(self) -> tuple[int, dict[str, list[str]]]:
        """Every item's text, as of frame `n` (or later: deltas after it
        repeat what is newer, and applying a state twice is harmless)."""
        return self.frame, {k: list(c.items.values()) for k, c in self.kinds.items()}
