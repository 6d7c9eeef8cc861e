"""One malformed field costs that field, not the call: it is dropped (its
default stands in), logged by location and never by value, and the event
parsed again. Essential fields (telephony.ringcentral.events.ESSENTIAL_*)
still make the party, or the message, unreadable."""

from __future__ import annotations

import copy
import json
import logging
from typing import Any

import pytest

from telephony.ringcentral.events import (
    Notification,
    parse_call_session,
    parse_frame,
    parse_session_event,
)
from telephony.ringcentral.exceptions import MalformedFrame
from tests.telephony.ringcentral.test_events import (
    PARTY,
    SESSION,
    envelope,
    fixture_text,
    party,
)

NUMBER = "+14155550123"  # in every bad value: it must never reach a log
EVENTS = "telephony.ringcentral.events"


def logged(caplog: pytest.LogCaptureFixture) -> str:
    return "\n".join(r.getMessage() for r in caplog.records if r.name == EVENTS)


def assert_not_echoed(caplog: pytest.LogCaptureFixture) -> None:
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert "4155550123" not in text
    assert "555" not in text  # not even a masked trace of the value


@pytest.mark.parametrize(
    ("fields", "location", "check"),
    [
        (
            {"from": {"phoneNumber": {"e164": NUMBER}, "name": "WIRELESS CALLER"}},
            "body.parties.0.from.phoneNumber",
            lambda p: (p.from_.phone_number, p.from_.name) == (None, "WIRELESS CALLER"),
        ),
        (
            {"from": [NUMBER]},
            "body.parties.0.from",
            lambda p: p.from_.phone_number is None,
        ),
        (
            {"recordings": [{"id": "8100000001", "active": True}, {"id": [NUMBER]}]},
            "body.parties.0.recordings.1",
            lambda p: (
                [(r.id, r.active) for r in p.recordings] == [("8100000001", True)]
            ),
        ),
        (
            {"recordings": [{"active": NUMBER}, {"id": "8100000002"}]},
            "body.parties.0.recordings.0",
            lambda p: [r.id for r in p.recordings] == ["8100000002"],
        ),
        (
            {"status": {"code": "Answered", "reason": {"why": NUMBER}}},
            "body.parties.0.status.reason",
            lambda p: (p.status.code, p.status.reason) == ("Answered", None),
        ),
        (
            {"status": {"code": "Gone", "peerId": [NUMBER]}},
            "body.parties.0.status.peerId",
            lambda p: (p.status.code, p.status.peer) == ("Gone", None),
        ),
        (
            {"direction": NUMBER},
            "body.parties.0.direction",
            lambda p: p.direction is None,
        ),
        (
            {"queueCall": NUMBER},
            "body.parties.0.queueCall",
            lambda p: p.queue_call is False,
        ),
        (
            {"uiCallInfo": {"primary": NUMBER, "additional": {"value": "Sales"}}},
            "body.parties.0.uiCallInfo.primary",
            lambda p: (
                p.ui_call_info is not None
                and p.ui_call_info.additional is not None
                and p.ui_call_info.additional.value == "Sales"
            ),
        ),
    ],
)
def test_a_malformed_party_field_is_dropped_and_logged_by_location(
    caplog: pytest.LogCaptureFixture, fields: dict[str, Any], location: str, check: Any
) -> None:
    event = parse_session_event(envelope(parties=[party(**fields)]))
    parsed = event.parties[0]
    assert check(parsed)
    # Everything else as sent.
    assert (event.telephony_session_id, event.sequence) == (SESSION, 6)
    assert (parsed.id, parsed.extension_id) == (PARTY, "1000000101")
    assert parsed.to.phone_number == "+16505550199"
    [record] = [r for r in caplog.records if r.name == EVENTS]
    assert record.levelno == logging.WARNING
    assert location in record.getMessage()
    assert SESSION in record.getMessage()
    assert_not_echoed(caplog)


def test_a_malformed_envelope_field_is_dropped(
    caplog: pytest.LogCaptureFixture,
) -> None:
    event = parse_session_event(envelope(sessionId={"n": NUMBER}, serverId=[NUMBER]))
    assert (event.session_id, event.server_id) == (None, None)
    assert event.parties[0].id == PARTY
    assert "body.serverId" in logged(caplog)
    assert "body.sessionId" in logged(caplog)
    assert_not_echoed(caplog)


def test_one_partys_bad_field_does_not_cost_the_other_parties(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caller = party(id="p-1", **{"from": {"phoneNumber": {"n": NUMBER}}})
    agent = party(id="p-2", muted=True)
    event = parse_session_event(envelope(parties=[caller, agent]))
    assert [p.id for p in event.parties] == ["p-1", "p-2"]
    assert event.parties[0].from_.phone_number is None
    assert event.parties[1].muted is True
    assert event.parties[1].from_.phone_number == "+14155550100"
    assert "body.parties.0.from.phoneNumber" in logged(caplog)


@pytest.mark.parametrize(
    ("bad", "location"),
    [
        ({"id": {"n": NUMBER}}, "body.parties.0.id"),
        ({"id": None}, "body.parties.0.id"),
        ({"status": {"code": [NUMBER]}}, "body.parties.0.status.code"),
        ({"status": NUMBER}, "body.parties.0.status"),
    ],
)
def test_a_party_with_a_bad_essential_field_is_skipped_the_others_kept(
    caplog: pytest.LogCaptureFixture, bad: dict[str, Any], location: str
) -> None:
    event = parse_session_event(
        envelope(parties=[party(**bad), party(id="p-2", muted=True)])
    )
    assert [(p.id, p.muted) for p in event.parties] == [("p-2", True)]
    assert "party body.parties.0" in logged(caplog)
    assert location in logged(caplog)
    assert_not_echoed(caplog)


def test_an_event_whose_only_party_is_unreadable_is_malformed() -> None:
    with pytest.raises(MalformedFrame, match=r"status\.code") as caught:
        parse_session_event(envelope(parties=[party(status={"code": [NUMBER]})]))
    assert NUMBER not in str(caught.value)


@pytest.mark.parametrize(
    "bad",
    [
        envelope(telephonySessionId={"n": NUMBER}),
        envelope(sequence=NUMBER),
        envelope(eventTime=[NUMBER]),
        envelope(parties={"0": party()}),
        {**envelope(), "uuid": [NUMBER]},
        {**envelope(), "body": NUMBER},
    ],
)
def test_a_bad_essential_envelope_field_still_makes_the_event_malformed(
    bad: dict[str, Any],
) -> None:
    with pytest.raises(MalformedFrame) as caught:
        parse_session_event(bad)
    assert NUMBER not in str(caught.value)


def test_the_callers_data_is_left_as_it_was() -> None:
    sent = envelope(parties=[party(**{"from": {"phoneNumber": {"n": NUMBER}}})])
    before = copy.deepcopy(sent)
    parse_session_event(sent)
    assert sent == before


def test_json_text_is_repaired_too(caplog: pytest.LogCaptureFixture) -> None:
    sent = envelope(parties=[party(recordings=[{"id": {}}])])
    event = parse_session_event(json.dumps(sent).encode())
    assert event.parties[0].recordings == ()
    assert "body.parties.0.recordings.0" in logged(caplog)


def test_a_notification_frame_with_a_malformed_field_still_carries_the_call(
    caplog: pytest.LogCaptureFixture,
) -> None:
    env = envelope(parties=[party(**{"from": {"phoneNumber": [NUMBER]}})])
    env["subscriptionId"] = {"id": NUMBER}
    header = {"type": "ServerNotification", "messageId": "x"}
    frame = parse_frame(json.dumps([header, env]))
    assert isinstance(frame, Notification)
    assert frame.subscription_id is None
    assert frame.session is not None
    assert frame.session.parties[0].id == PARTY
    assert frame.session.parties[0].from_.phone_number is None
    assert "body.parties.0.from.phoneNumber" in logged(caplog)
    assert "subscriptionId" in logged(caplog)
    assert_not_echoed(caplog)


def test_a_rest_session_body_drops_a_malformed_field(
    caplog: pytest.LogCaptureFixture,
) -> None:
    body = json.loads(fixture_text("call_session.json"))
    body["parties"][0]["from"]["phoneNumber"] = {"n": NUMBER}
    body["creationTime"] = [NUMBER]
    snap = parse_call_session(body)
    assert snap.creation_time is None
    assert [p.id for p in snap.parties] == [
        f"p-{SESSION[2:]}-1",
        f"p-{SESSION[2:]}-2",
    ]
    assert snap.parties[0].from_.phone_number is None
    assert "parties.0.from.phoneNumber" in logged(caplog)
    assert "creationTime" in logged(caplog)
    assert_not_echoed(caplog)


def test_a_rest_session_body_with_an_unreadable_party_is_malformed() -> None:
    # Its party list replaces the call's: leaving one out would end it.
    body = json.loads(fixture_text("call_session.json"))
    body["parties"][0]["status"] = {"code": [NUMBER]}
    with pytest.raises(MalformedFrame, match=r"parties\.0\.status\.code"):
        parse_call_session(body)
