"""Consoles that join within SNAPSHOT_REUSE of each other share one build of
the snapshot, whatever changed since, and each catches up with the deltas
after it: the floor a late console ends up with is the same, without a
gap in the numbering."""

from __future__ import annotations

from typing import Any

import pytest

from dashboard import feed as feed_module, protocol
from tests.dashboard.test_consumers import answer_snapshot
from tests.dashboard.test_feed import TALKING, open_console, publish
from tests.support.calls import call_view
from tests.support.frames import receive_frame


def apply(floor: dict[str, Any], frame: dict[str, Any]) -> int:
    floor.update((c["id"], c) for c in frame["calls"])
    for call_id in frame.get("ended", []):
        floor.pop(call_id, None)
    return int(frame["n"])


@pytest.mark.django_db(transaction=True)
async def test_a_console_joining_soon_after_gets_the_same_snapshot_and_the_deltas_since(
    monkeypatch,
):
    builds = []
    real = protocol.snapshot_parts
    monkeypatch.setattr(
        feed_module.protocol,
        "snapshot_parts",
        lambda **kw: builds.append(kw["n"]) or real(**kw),
    )
    monkeypatch.setattr(feed_module, "SNAPSHOT_REUSE", 60.0)
    first = await open_console("sup1")
    await answer_snapshot([TALKING])
    snapshot = await receive_frame(first)
    floor = {c["id"]: c for c in snapshot["calls"]}
    n = snapshot["n"]
    for seq, call in enumerate(
        [call_view("s-2"), call_view("s-1", agent_party_id="p-1-2", state="held")],
        start=8,
    ):
        await publish(seq, call)
        n = apply(floor, await receive_frame(first))
    await publish(10, call_view("s-2"), ended=True)
    n = apply(floor, await receive_frame(first))

    late = await open_console("sup2")
    again = await receive_frame(late)
    assert again["type"] == "snapshot"
    assert again["n"] == snapshot["n"] < n  # the same build, reused
    caught_up = {c["id"]: c for c in again["calls"]}
    seen = again["n"]
    while seen < n:
        delta = await receive_frame(late)
        assert delta["type"] == "delta" and delta["n"] == seen + 1  # no gap
        seen = apply(caught_up, delta)
    assert caught_up == floor
    assert builds == [snapshot["n"]]  # built once for both consoles
    await publish(11, call_view("s-3"))
    assert (await receive_frame(late))["n"] == n + 1
    assert (await receive_frame(first))["n"] == n + 1
    await first.disconnect()
    await late.disconnect()
