"""Alerts: raised past their threshold, carrying their fix, acknowledged
by one supervisor for all, cleared when the condition ends."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from telephony.live.alerts import AlertBoard, Settings, Thresholds, settings_from
from tests.support.calls import call_view, party

T0 = datetime(2026, 1, 15, 10, 0, tzinfo=UTC)
ISO0 = "2026-01-15T10:00:00.000Z"


def held_call(status: str = "Hold", queue: str | None = None) -> dict:
    return call_view(
        "s-1",
        agent_party_id="p-2",
        state="held" if status == "Hold" else "talking",
        answered_at=ISO0,
        queue={"extension_id": queue, "name": "Sales"} if queue else None,
        parties=[party("p-2", status=status, since=ISO0, extension_id="101")],
    )


def test_a_long_hold_raises_an_alert_whose_fix_is_unhold():
    board = AlertBoard()
    assert board.evaluate(now=T0 + timedelta(seconds=60), calls=[held_call()],
                          agents=[], queues=[]) == []  # fmt: skip
    [alert] = board.evaluate(
        now=T0 + timedelta(seconds=121), calls=[held_call()], agents=[], queues=[]
    )
    assert (alert["kind"], alert["subject"], alert["subject_id"]) == (
        "long_hold",
        "call",
        "s-1",
    )
    assert alert["fix"] == {"action": "unhold", "sessionId": "s-1", "partyId": "p-2"}
    assert alert["since"] == ISO0 and alert["threshold"] == 120
    # Still on: nothing new to say.
    later = T0 + timedelta(seconds=200)
    assert board.evaluate(now=later, calls=[held_call()], agents=[], queues=[]) == []


def test_an_acknowledged_alert_says_who_and_clears_with_its_condition():
    board = AlertBoard()
    now = T0 + timedelta(seconds=130)
    [alert] = board.evaluate(now=now, calls=[held_call()], agents=[], queues=[])
    acked = board.acknowledge(alert["id"], user="sam", now=now)
    assert acked is not None and acked["acked_by"] == "sam"
    assert board.snapshot()[0]["acked_by"] == "sam"
    [cleared] = board.evaluate(
        now=now, calls=[held_call("Answered")], agents=[], queues=[]
    )
    assert cleared["cleared"] is True and cleared["id"] == alert["id"]
    assert board.acknowledge(alert["id"], user="kim", now=now) is None


def test_a_long_talk_offers_listen_and_queue_thresholds_apply():
    board = AlertBoard()
    board.settings = Settings(queues={"201": Thresholds(long_talk_seconds=60)})
    now = T0 + timedelta(seconds=61)
    [alert] = board.evaluate(
        now=now, calls=[held_call("Answered", queue="201")], agents=[], queues=[]
    )
    assert alert["kind"] == "long_talk" and alert["queue"] == "201"
    assert alert["fix"]["action"] == "listen"


def test_a_long_wait_in_queue_points_at_the_queue():
    board = AlertBoard()
    waiting = call_view(
        "s-9",
        state="ringing",
        started_at=ISO0,
        queue={"extension_id": "201", "name": "Sales"},
    )
    [alert] = board.evaluate(
        now=T0 + timedelta(seconds=61), calls=[waiting], agents=[], queues=[]
    )
    assert alert["kind"] == "long_wait"
    assert alert["fix"] == {"view": "queue", "queue": "201"}


def test_service_level_under_target_and_dnd_too_long():
    board = AlertBoard()
    figures = {
        "extension_id": "201",
        "name": "Sales",
        "offered": 10,
        "answered": 7,
        "abandoned": 3,
        "within_service_level": 6,
        "service_level_seconds": 20,
        "service_level_target": 80,
        "average_wait": 12.0,
        "average_handle": 90.0,
    }
    agent = {
        "extension_id": "1000000103",
        "availability": "dnd",
        "since": ISO0,
        "user_status": "Available",
        "dnd_status": "DoNotAcceptAnyCalls",
        "presence_status": "Available",
        "telephony_status": "NoCall",
    }
    alerts = board.evaluate(
        now=T0 + timedelta(hours=1), calls=[], agents=[agent], queues=[figures]
    )
    kinds = {a["kind"]: a for a in alerts}
    assert kinds["service_level"]["fix"] == {"view": "queue", "queue": "201"}
    assert kinds["dnd_too_long"]["fix"] == {"view": "agent", "ext": "1000000103"}


def test_settings_come_from_the_admins_rows():
    settings = settings_from(
        [
            {"queue_extension_id": "", "long_hold_seconds": 90},
            {"queue_extension_id": "201", "long_hold_seconds": 30},
        ]
    )
    assert settings.of(None).long_hold_seconds == 90
    assert settings.of("201").long_hold_seconds == 30
    assert settings.of("202").long_hold_seconds == 90
