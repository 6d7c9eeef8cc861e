"""The action registry and the worker's executors agree, and which
telephony change proves each supervisor command worked."""

from __future__ import annotations

import pytest

from telephony.actions import ACTIONS, InvalidParams, confirmation, page_registry
from telephony.worker.commands import EXECUTORS


def call(**agent) -> dict:
    party = {"id": "p-2", "status": "Answered", "muted": False, "recordings": []}
    party.update(agent)
    return {"id": "s-1", "parties": [{"id": "p-1", "status": "Answered"}, party]}


def test_every_action_of_the_registry_has_an_executor_and_no_other():
    assert set(EXECUTORS) == set(ACTIONS)


def test_the_page_gets_every_action_with_its_label():
    labels = {a["name"]: a["label"] for a in page_registry()}
    assert labels["hold"] == "Hold"
    assert labels["end"] == "End"
    assert set(labels) == set(ACTIONS)


@pytest.mark.parametrize(
    ("action", "params", "after", "kind", "expected"),
    [
        ("hold", {}, call(status="Hold"), "updated", True),
        ("hold", {}, call(), "updated", False),
        ("unhold", {}, call(), "updated", True),
        ("mute", {}, call(muted=True), "updated", True),
        ("unmute", {}, call(muted=True), "updated", False),
        (
            "record_start",
            {},
            call(recordings=[{"id": "r1", "active": True}]),
            "updated",
            True,
        ),
        (
            "record_pause",
            {"recordingId": "r1"},
            call(recordings=[{"id": "r1", "active": False}]),
            "updated",
            True,
        ),
        (
            "record_pause",
            {"recordingId": "r1"},
            call(recordings=[{"id": "r1", "active": True}]),
            "updated",
            False,
        ),
        (
            "record_resume",
            {"recordingId": "r1"},
            call(recordings=[{"id": "r1", "active": True}]),
            "updated",
            True,
        ),
        ("end", {}, call(), "ended", True),
        ("end", {}, call(), "updated", False),
        ("transfer", {}, call(status="Disconnected"), "updated", True),
        ("transfer", {}, call(), "ended", True),
        ("hold", {}, call(status="Hold"), "ended", False),
    ],
)
def test_confirmation_matches_the_confirming_change(
    action, params, after, kind, expected
):
    assert confirmation(action, "p-2", params, call())(kind, after) is expected


def test_listen_is_confirmed_by_a_new_party():
    before = call()
    after = call()
    after["parties"].append({"id": "p-3", "status": "Answered"})
    confirmed = confirmation("listen", "p-2", {}, before)
    assert confirmed("updated", after)
    assert not confirmed("updated", before)


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"extensionNumber": "102", "phoneNumber": "+1"},
        {"extensionNumber": ""},
        {"recordingId": "r1"},
    ],
)
def test_transfer_needs_exactly_one_target(params):
    with pytest.raises(InvalidParams):
        ACTIONS["transfer"].clean(params)


def test_transfer_target_passes_one_target_through():
    assert ACTIONS["transfer"].clean({"parkOrbit": "*801"}) == {"parkOrbit": "*801"}
