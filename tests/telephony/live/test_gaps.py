"""Sequence holes: lost events are spotted, late ones fill their hole."""

from __future__ import annotations

from telephony.live.gaps import SequenceWatch


def test_consecutive_sequences_open_no_hole():
    watch = SequenceWatch()
    assert [watch.see("s", n, new_call=(n == 2)) for n in (2, 3, 4)] == [False] * 3
    assert not watch.has_holes("s")


def test_a_skipped_sequence_opens_a_hole_that_a_late_event_fills():
    watch = SequenceWatch()
    watch.see("s", 2, new_call=True)
    assert watch.see("s", 5, new_call=False) is True
    assert watch.has_holes("s")
    watch.see("s", 3, new_call=False)
    watch.see("s", 4, new_call=False)
    assert not watch.has_holes("s")


def test_a_new_call_first_seen_late_has_lost_its_start():
    watch = SequenceWatch()
    assert watch.see("s", 4, new_call=True) is True
    assert watch.has_holes("s")


def test_a_known_call_seen_for_the_first_time_is_not_a_gap():
    watch = SequenceWatch()  # e.g. loaded by a resync before any event
    assert watch.see("s", 9, new_call=False) is False
    assert not watch.has_holes("s")


def test_clear_and_forget():
    watch = SequenceWatch()
    watch.see("s", 6, new_call=True)
    watch.clear_holes("s")
    assert not watch.has_holes("s")
    watch.forget("s")
    assert watch.see("s", 3, new_call=False) is False


def test_prune_keeps_only_live_sessions():
    watch = SequenceWatch()
    watch.see("live", 2, new_call=True)
    watch.see("gone", 5, new_call=True)
    watch.prune({"live"})
    assert not watch.has_holes("gone")
    assert watch.see("live", 3, new_call=False) is False
