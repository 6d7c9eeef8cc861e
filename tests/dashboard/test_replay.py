"""Floor replay's reads and endpoints over a generated journal: the floor
at any moment from the mark before it plus the changes since, coalesced
changes per step, read-only and permission-controlled."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.contrib.auth.models import Group, User
from django.test import Client

from dashboard import protocol
from dashboard.selectors import floor_at_get, floor_changes_list, replay_window_get
from telephony.history import services
from tests.support.calls import call_view

T0 = datetime(2026, 11, 29, 10, 0, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def ms(seconds: float) -> int:
    return int(at(seconds).timestamp() * 1000)


def journal(*entries: tuple[float, str, Any]) -> list[int]:
    return services.call_events_append(
        entries=[
            {"at": at(s), "session_id": call["id"], "kind": kind, "call": call}
            for s, kind, call in entries
        ]
    )


@pytest.fixture
def floor() -> None:
    """s-1 rings at 0, talks at 10, is held at 70, ends at 130; s-2 talks
    from 5 to 65; s-3 rings at 100. A mark at 60 (s-1 talking, s-2)."""
    ids = journal(
        (0, "updated", call_view("s-1", state="ringing")),
        (5, "updated", call_view("s-2")),
        (10, "updated", call_view("s-1")),
    )
    services.floor_mark_create(at=at(60), events=[ids[2], ids[1]])
    journal(
        (65, "ended", call_view("s-2")),
        (70, "updated", call_view("s-1", state="held")),
        (100, "updated", call_view("s-3", state="ringing")),
        (130, "ended", call_view("s-1", state="held")),
    )


def states(calls: list[Any]) -> dict[str, str]:
    return {c["id"]: c["state"] for c in calls}


@pytest.mark.django_db
def test_the_floor_at_any_moment(floor):
    assert states(floor_at_get(at=at(-1))) == {}
    assert states(floor_at_get(at=at(7))) == {"s-1": "ringing", "s-2": "talking"}
    assert states(floor_at_get(at=at(60))) == {"s-1": "talking", "s-2": "talking"}
    assert states(floor_at_get(at=at(80))) == {"s-1": "held"}
    assert states(floor_at_get(at=at(110))) == {"s-1": "held", "s-3": "ringing"}
    assert states(floor_at_get(at=at(200))) == {"s-3": "ringing"}
    assert replay_window_get() == (at(0), at(130))


@pytest.mark.django_db
def test_changes_are_coalesced_per_call(floor):
    updated, ended = floor_changes_list(after=at(0), until=at(70))
    assert states(updated) == {"s-1": "held"}  # its latest, once
    assert ended == ["s-2"]
    assert floor_changes_list(after=at(130), until=at(200)) == ([], [])


def supervisor_client(role: str = "Supervisor") -> Client:
    user = User.objects.create_user(f"u-{role}")
    user.groups.add(Group.objects.get(name=role))
    client = Client()
    client.force_login(user)
    return client


@pytest.mark.django_db
def test_the_endpoints_speak_the_browser_protocols_wire_form(floor):
    client = supervisor_client()
    page = client.get("/replay/")
    assert page.status_code == 200
    assert b'id="replay"' in page.content
    assert b'"actions": [], "acknowledge": false' in page.content  # read-only
    body = client.get(f"/replay/floor.json?at={ms(80)}").json()
    assert body == {
        "time": ms(80),
        "calls": [protocol.call_wire(call_view("s-1", state="held"))],
        "first": ms(0),
        "last": ms(130),
    }
    step = client.get(f"/replay/changes.json?after={ms(80)}&until={ms(130)}").json()
    assert step == {
        "time": ms(130),
        "calls": [protocol.call_wire(call_view("s-3", state="ringing"))],
        "ended": ["s-1"],
    }


@pytest.mark.django_db
def test_bad_requests_are_refused_in_plain_words():
    client = supervisor_client()
    assert client.get("/replay/floor.json?at=yesterday").status_code == 400
    too_long = client.get(f"/replay/changes.json?after={ms(0)}&until={ms(3600)}")
    assert too_long.status_code == 400
    assert "a step covers" in too_long.json()["error"]
    backwards = client.get(f"/replay/changes.json?after={ms(10)}&until={ms(0)}")
    assert backwards.status_code == 400


@pytest.mark.django_db
def test_a_viewer_may_watch_live_but_not_replay(floor):
    client = supervisor_client("Viewer")
    for path in ("/replay/", f"/replay/floor.json?at={ms(80)}"):
        response = client.get(path)
        assert response.status_code == 403
        assert b"may not replay the floor" in response.content
    assert Client().get("/replay/").status_code == 302  # to the login
