"""Who is on a call: supervisors viewing it and their pending commands."""

from __future__ import annotations

from telephony.live.attention import VIEW_TTL, AttentionBoard


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_supervisors_viewing_a_call_and_their_pending_commands_are_seen():
    board = AttentionBoard(Clock())
    [view] = board.view(console="c1", user="sam", session_id="s-1")
    assert view == {"session_id": "s-1", "viewers": ["sam"], "pending": []}
    [view] = board.view(console="c2", user="kim", session_id="s-1")
    assert view["viewers"] == ["kim", "sam"]
    view = board.command(request_id="r1", session_id="s-1", user="kim", action="unhold")
    assert view["pending"] == [{"user": "kim", "action": "unhold"}]
    view = board.settled(request_id="r1", session_id="s-1")
    assert view is not None and view["pending"] == []
    # Sam moves to another call: s-1 loses them, s-2 gains them.
    changed = board.view(console="c1", user="sam", session_id="s-2")
    assert [v["session_id"] for v in changed] == ["s-1", "s-2"]
    assert changed[0]["viewers"] == ["kim"]


def test_a_supervisor_on_two_consoles_stays_until_both_leave():
    board = AttentionBoard(Clock())
    board.view(console="c1", user="sam", session_id="s-1")
    assert board.view(console="c2", user="sam", session_id="s-1") == []
    assert board.view(console="c1", user="sam", session_id=None) == []
    [view] = board.view(console="c2", user="sam", session_id=None)
    assert view["viewers"] == []


def test_a_console_that_stops_reporting_is_forgotten():
    clock = Clock()
    board = AttentionBoard(clock)
    board.view(console="c1", user="sam", session_id="s-1")
    clock.now = VIEW_TTL - 1
    assert board.expire() == []
    clock.now = VIEW_TTL + 1
    [view] = board.expire()
    assert view["viewers"] == [] and board.snapshot() == []
