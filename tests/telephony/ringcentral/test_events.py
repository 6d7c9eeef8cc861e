"""Parsing at the edge: frames, telephony events and REST session bodies."""

from __future__ import annotations

import copy
import dataclasses
import json
import pickle
from datetime import UTC, datetime
from typing import Any

import pytest

from telephony.ringcentral.events import (
    FINAL_STATUS_CODES,
    NON_FINAL_DISCONNECT_REASONS,
    STATUS_CODES,
    ClientResponse,
    ConnectionDetails,
    ErrorFrame,
    Heartbeat,
    Notification,
    PartyStatus,
    Peer,
    Wsc,
    parse_call_session,
    parse_frame,
    parse_session_event,
)
from telephony.ringcentral.exceptions import (
    AuthenticationFailed,
    MalformedFrame,
    TelephonyError,
    TelephonyRejected,
)
from tests.support.paths import (
    CAPTURED,
    TELEPHONY as FIXTURES,
)

SESSION = "s-0a1b2c3d4e5f40718293a4b5c6d7e8f9"
PARTY = "p-0a1b2c3d4e5f40718293a4b5c6d7e8f9-2"


def fixture_text(name: str) -> str:
    return (FIXTURES / name).read_text()


def envelope(**body: Any) -> dict[str, Any]:
    """The event #6 envelope of docs/ringcentral.md 6.9, with body fields
    replaced (None deletes)."""
    env = copy.deepcopy(json.loads(fixture_text("server_notification.json"))[1])
    for key, value in body.items():
        if value is None:
            del env["body"][key]
        else:
            env["body"][key] = value
    return env


def party(**fields: Any) -> dict[str, Any]:
    """The event #6 party with fields replaced (None deletes)."""
    result = copy.deepcopy(envelope()["body"]["parties"][0])
    for key, value in fields.items():
        if value is None:
            del result[key]
        else:
            result[key] = value
    return result


def with_party(**fields: Any) -> dict[str, Any]:
    return envelope(parties=[party(**fields)])


# Frames ---------------------------------------------------------------------


def test_connection_details_frame_carries_wsc_and_timeouts() -> None:
    frame = parse_frame(fixture_text("connection_details.json"))
    assert frame == ConnectionDetails(
        message_id="5d8e8f0a-2b6f-4a44-9d3e-000000000001",
        wsc=Wsc(token="c2ltLXdzYy10b2tlbi0wMDAx", sequence=1),
        recovery_state=None,
        recovery_error_code=None,
        idle_timeout=1800,
        absolute_timeout=86400,
        recovery_timeout=180,
        recovery_buffer_size=100,
    )


def test_connection_details_frame_reports_failed_recovery() -> None:
    frame = parse_frame(fixture_text("connection_details_recovery_failed.json"))
    assert isinstance(frame, ConnectionDetails)
    assert (frame.recovery_state, frame.recovery_error_code) == ("Failed", "WSG-1005")


def test_client_response_frame_keeps_the_subscription_body() -> None:
    frame = parse_frame(fixture_text("client_response_subscription.json"))
    assert isinstance(frame, ClientResponse)
    assert frame.message_id == "0b0c6f52-7d9e-4bd6-9c1e-5a1f3c2d4e01"
    assert frame.status == 200
    assert frame.wsc == Wsc(token="c2ltLXdzYy10b2tlbi0wMDAx", sequence=2)
    assert frame.body is not None
    assert frame.body["id"] == "6f1f1b2e-3c4d-4e5f-8a9b-0c1d2e3f4a5b"


def test_client_response_frame_with_an_error_status() -> None:
    frame = parse_frame(fixture_text("client_response_error.json"))
    assert isinstance(frame, ClientResponse)
    assert frame.status == 400
    assert frame.body is not None
    assert frame.body["errorCode"] == "SUB-508"


def test_client_response_without_a_body() -> None:
    frame = parse_frame('[{"type": "ClientRequest", "messageId": "m", "status": 204}]')
    assert frame == ClientResponse(message_id="m", status=204, body=None, wsc=None)


def test_telephony_notification_frame_is_parsed_into_a_session_event() -> None:
    frame = parse_frame(fixture_text("server_notification.json").encode())
    assert isinstance(frame, Notification)
    assert frame.uuid == "7390012345678901006"
    assert frame.event.endswith("/extension/1000000101/telephony/sessions")
    assert frame.subscription_id == "6f1f1b2e-3c4d-4e5f-8a9b-0c1d2e3f4a5b"
    assert frame.timestamp == "2026-01-15T10:05:02.140Z"
    assert frame.body is None
    session = frame.session
    assert session is not None
    assert (session.uuid, session.sequence) == ("7390012345678901006", 6)
    assert session.telephony_session_id == SESSION
    assert (session.session_id, session.server_id) == ("31000000001", "10.13.22.27.TAM")
    assert session.origin == "Call"
    assert session.event_time == datetime(2026, 1, 15, 10, 5, 2, 31000, tzinfo=UTC)
    (alice,) = session.parties
    assert (alice.id, alice.extension_id, alice.direction) == (
        PARTY,
        "1000000101",
        "Inbound",
    )
    assert alice.status.code == "Answered"
    assert alice.from_.phone_number == "+14155550100"
    assert alice.to.name == "Alice Agent"
    assert alice.park_id is None
    assert alice.recordings == ()
    assert not (alice.missed_call or alice.stand_alone or alice.muted)


def test_telephony_notification_from_a_filter_with_query_parameters() -> None:
    env = envelope()
    env["event"] = (
        "/restapi/v1.0/account/1000000001/telephony/sessions?direction=Inbound"
    )
    frame = parse_frame(json.dumps([{"type": "ServerNotification"}, env]))
    assert isinstance(frame, Notification)
    assert frame.session is not None
    assert frame.session.telephony_session_id == SESSION


def test_presence_notifications_are_parsed() -> None:
    frame = parse_frame(fixture_text("server_notification_presence.json"))
    assert isinstance(frame, Notification)
    assert frame.session is None
    assert frame.presence is not None
    assert frame.presence.telephony_status == "CallConnected"


def test_other_notifications_keep_their_raw_body() -> None:
    env = envelope()
    env["event"] = "/restapi/v1.0/account/~/extension/1/message-store"
    frame = parse_frame(json.dumps([{"type": "ServerNotification"}, env]))
    assert isinstance(frame, Notification)
    assert frame.session is None and frame.presence is None
    assert frame.body is not None and "parties" in frame.body


@pytest.mark.parametrize("kind", ["Heartbeat", "HeartbeatResponse"])
def test_heartbeat_frame(kind: str) -> None:
    raw = fixture_text("heartbeat.json").replace('"Heartbeat"', json.dumps(kind))
    frame = parse_frame(raw)
    assert frame == Heartbeat(message_id="9f7e2c1a-0000-4000-8000-00000000beef")


def test_error_frame() -> None:
    frame = parse_frame(fixture_text("error_idle_timeout.json"))
    assert frame == ErrorFrame(
        message_id="5d8e8f0a-2b6f-4a44-9d3e-000000000009",
        status=400,
        error_code="WSG-902",
        message="Idle timeout expired",
    )


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "not json",
        b"\xff\xfe",
        '{"type": "Heartbeat"}',
        "[]",
        "[{}, {}, {}]",
        '["Heartbeat"]',
        '[{"type": "ClientRequest", "messageId": "m", "status": 200}, --Boundary]',
        '[{"type": "ClientRequest", "messageId": "m", "status": 200}, "text"]',
        '[{"messageId": "m"}]',
        '[{"type": ["ServerNotification"]}]',
        '[{"type": "Surprise"}]',
        '[{"type": "ServerNotification"}]',
        '[{"type": "ClientRequest", "status": 200}]',
        '[{"type": "ClientRequest", "messageId": "m"}]',
        '[{"type": "ConnectionDetails", "wsc": {"token": "t"}}, {}]',
    ],
)
def test_malformed_frames_raise(raw: str | bytes) -> None:
    with pytest.raises(MalformedFrame):
        parse_frame(raw)


def test_a_bad_telephony_event_makes_the_frame_malformed() -> None:
    header = {"type": "ServerNotification", "messageId": "x"}
    raw = json.dumps([header, envelope(telephonySessionId=None)])
    with pytest.raises(MalformedFrame, match="telephonySessionId"):
        parse_frame(raw)


# Session events -------------------------------------------------------------


def test_every_captured_event_parses() -> None:
    envelopes = [
        env
        for path in sorted(CAPTURED.glob("*.json"))
        for env in json.loads(path.read_text())
    ]
    events = [parse_session_event(env) for env in envelopes]
    assert len(events) == 29
    assert all(len(event.parties) == 1 for event in events)
    assert {event.origin for event in events} == {"Call"}


@pytest.mark.parametrize("form", ["dict", "str", "bytes"])
def test_parse_session_event_accepts_dict_text_and_bytes(form: str) -> None:
    env = envelope()
    data = {"dict": env, "str": json.dumps(env), "bytes": json.dumps(env).encode()}
    assert parse_session_event(data[form]).parties[0].id == PARTY


@pytest.mark.parametrize(
    "bad",
    [
        envelope(telephonySessionId=None),
        envelope(sequence=None),
        envelope(sequence="6"),
        envelope(sequence=6.5),
        envelope(sequence=True),
        envelope(sequence=[6]),
        envelope(parties=None),
        with_party(id=None),
        with_party(status={"reason": "Pickup"}),
        with_party(status={"code": None}),
        with_party(status="Answered"),
        envelope(parties=[party(id=None), party(status={"code": {}})]),
        {**envelope(eventTime=None), "timestamp": None},
        {key: value for key, value in envelope().items() if key != "uuid"},
    ],
)
def test_missing_or_bad_required_fields_raise(bad: dict[str, Any]) -> None:
    with pytest.raises(MalformedFrame):
        parse_session_event(bad)


def test_malformed_text_raises() -> None:
    with pytest.raises(MalformedFrame):
        parse_session_event("{not json")


def test_error_messages_do_not_echo_the_input() -> None:
    bad = with_party(status={"code": ["+14155550100"]})
    with pytest.raises(MalformedFrame) as caught:
        parse_session_event(bad)
    assert "+14155550100" not in str(caught.value)
    assert "status.code" in str(caught.value)


@pytest.mark.parametrize(
    ("sent", "parsed"),
    [
        ("Voicemail", "Voicemail"),
        ("VoiceMail", "Voicemail"),
        ("VOICEMAIL", "Voicemail"),
        ("VMScreening", "VoiceMailScreening"),
        ("VoiceMailScreening", "VoiceMailScreening"),
        ("answered", "Answered"),
        ("SomethingNew", "SomethingNew"),
    ],
)
def test_status_codes_are_normalised(sent: str, parsed: str) -> None:
    event = parse_session_event(with_party(status={"code": sent}))
    assert event.parties[0].status.code == parsed


@pytest.mark.parametrize(
    ("peer_id", "expected"),
    [
        (
            {"sessionId": "4291", "telephonySessionId": "s-2", "partyId": "p-2-1"},
            Peer(telephony_session_id="s-2", party_id="p-2-1"),
        ),
        (
            {"sessionId": "s-2", "partyId": "p-2-1"},
            Peer(telephony_session_id="s-2", party_id="p-2-1"),
        ),
        (
            {"sessionId": "4291", "partyId": "p-2-1"},
            Peer(telephony_session_id=None, party_id="p-2-1"),
        ),
        (
            {"sessionId": 4291, "partyId": "p-2-1"},
            Peer(telephony_session_id=None, party_id="p-2-1"),
        ),
    ],
)
def test_peer_id_variants(peer_id: dict[str, Any], expected: Peer) -> None:
    status = {"code": "Gone", "reason": "AttendedTransfer", "peerId": peer_id}
    assert (
        parse_session_event(with_party(status=status)).parties[0].status.peer
        == expected
    )


@pytest.mark.parametrize(
    ("sent", "expected"),
    [
        (
            "2026-01-15T10:05:02.031Z",
            datetime(2026, 1, 15, 10, 5, 2, 31000, tzinfo=UTC),
        ),
        (
            "2026-01-15T10:05:02.031+0000",
            datetime(2026, 1, 15, 10, 5, 2, 31000, tzinfo=UTC),
        ),
        (
            "2026-01-15T10:05:02.031+00:00",
            datetime(2026, 1, 15, 10, 5, 2, 31000, tzinfo=UTC),
        ),
        ("2026-01-15T10:05:02Z", datetime(2026, 1, 15, 10, 5, 2, tzinfo=UTC)),
        ("2026-01-15T10:05:02+0000", datetime(2026, 1, 15, 10, 5, 2, tzinfo=UTC)),
        (
            "2026-01-15T12:05:02.5+02:00",
            datetime(2026, 1, 15, 10, 5, 2, 500000, tzinfo=UTC),
        ),
        ("2026-01-15T10:05:02", datetime(2026, 1, 15, 10, 5, 2, tzinfo=UTC)),
    ],
)
def test_event_times_are_aware_utc(sent: str, expected: datetime) -> None:
    event_time = parse_session_event(envelope(eventTime=sent)).event_time
    assert event_time == expected
    assert event_time.tzinfo is UTC


def test_event_time_falls_back_to_the_envelope_timestamp() -> None:
    event = parse_session_event(envelope(eventTime=None))
    assert event.event_time == datetime(2026, 1, 15, 10, 5, 2, 140000, tzinfo=UTC)


def test_ids_are_normalised_to_strings() -> None:
    numeric = party(
        id=12,
        accountId=1000000001,
        extensionId=1000000101,
        to={
            "phoneNumber": "+16505550199",
            "extensionId": 1000000101,
            "deviceId": 800001,
        },
        park={"id": 801},
        recordings=[{"id": 8100000001, "active": True}],
    )
    event = parse_session_event(envelope(sessionId=31000000001, parties=[numeric]))
    parsed = event.parties[0]
    assert event.session_id == "31000000001"
    assert (parsed.id, parsed.account_id, parsed.extension_id) == (
        "12",
        "1000000001",
        "1000000101",
    )
    assert (parsed.to.extension_id, parsed.to.device_id) == ("1000000101", "800001")
    assert parsed.park_id == "801"
    assert parsed.recordings[0].id == "8100000001"


def test_optional_fields_may_be_absent_and_unknown_ones_are_ignored() -> None:
    minimal = {
        "id": "p-1",
        "status": {"code": "Setup", "brandNew": 1},
        "sipData": {"callId": "x"},
    }
    event = parse_session_event(
        envelope(parties=[minimal], origin=None, sessionId=None, shiny=1)
    )
    parsed = event.parties[0]
    assert (event.origin, event.session_id) == (None, None)
    assert (parsed.extension_id, parsed.direction, parsed.park_id) == (None, None, None)
    assert parsed.from_.phone_number is None
    assert parsed.recordings == ()
    assert parsed.ui_call_info is None


def test_queue_call_fields() -> None:
    ui = {
        "primary": {"type": "QueueName", "value": "Sales"},
        "additional": {"type": "CallerIdName", "value": "WIRELESS CALLER"},
    }
    event = parse_session_event(
        with_party(queueCall=True, uiCallInfo=ui, conferenceRole="Host")
    )
    parsed = event.parties[0]
    assert parsed.queue_call
    assert parsed.conference_role == "Host"
    assert parsed.ui_call_info is not None
    assert parsed.ui_call_info.primary is not None
    assert parsed.ui_call_info.primary.value == "Sales"


def test_parked_party() -> None:
    status = {"code": "Parked", "parkData": "*801"}
    parsed = parse_session_event(with_party(status=status, park={"id": "801"})).parties[
        0
    ]
    assert (parsed.status.code, parsed.status.parked_data, parsed.park_id) == (
        "Parked",
        "*801",
        "801",
    )


@pytest.mark.parametrize(
    ("code", "reason", "finished"),
    [
        ("Answered", None, False),
        ("Disconnected", None, True),
        ("Disconnected", "BlindTransfer", True),
        ("Disconnected", "Pickup", False),
        ("Disconnected", "CallSwitch", False),
        ("Gone", "AttendedTransfer", True),
    ],
)
def test_party_status_finished(code: str, reason: str | None, finished: bool) -> None:
    assert PartyStatus(code=code, reason=reason).finished is finished


def test_status_code_constants() -> None:
    assert {"Disconnected", "Gone"} == FINAL_STATUS_CODES
    assert {"Pickup", "CallSwitch"} == NON_FINAL_DISCONNECT_REASONS
    assert {"Setup", "Proceeding", "Answered", "Hold", "Voicemail"} <= set(STATUS_CODES)
    assert len(STATUS_CODES) == len(set(STATUS_CODES)) == 11


def test_parsed_objects_are_frozen_and_slotted() -> None:
    event = parse_session_event(envelope())
    with pytest.raises(dataclasses.FrozenInstanceError):
        event.sequence = 7  # type: ignore[misc]
    assert not hasattr(event.parties[0], "__dict__")


# REST session bodies ----------------------------------------------------------


def test_call_session_body_is_parsed() -> None:
    snap = parse_call_session(json.loads(fixture_text("call_session.json")))
    assert snap.id == SESSION
    assert snap.origin == "Call"
    assert snap.creation_time == datetime(2026, 1, 15, 10, 4, 55, tzinfo=UTC)
    caller, alice = snap.parties
    assert (caller.extension_id, caller.direction, caller.status.code) == (
        None,
        "Outbound",
        "Answered",
    )
    assert alice.extension_id == "1000000101"
    assert alice.recordings[0].active


def test_call_session_reads_deprecated_owner_and_attributes() -> None:
    body = json.loads(fixture_text("call_session.json"))
    alice = body["parties"][1]
    del alice["extensionId"]
    alice["attributes"] = {"queueCall": True}
    parsed = parse_call_session(json.dumps(body)).parties[1]
    assert parsed.extension_id == "1000000101"
    assert parsed.queue_call


def test_call_session_without_id_raises() -> None:
    with pytest.raises(MalformedFrame):
        parse_call_session({"parties": []})


# Exceptions -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "permanent"),
    [(400, True), (404, True), (429, False), (500, False), (503, False)],
)
def test_rejections_know_whether_they_are_permanent(
    status: int, permanent: bool
) -> None:
    error = TelephonyRejected(status=status, error_code="CMN-102", message="nope")
    assert error.permanent is permanent
    assert isinstance(error, TelephonyError)


def test_rejections_survive_pickling() -> None:
    error = AuthenticationFailed(
        status=400, error_code="OAU-251", message="bad jwt", retry_after=1.5
    )
    copy_ = pickle.loads(pickle.dumps(error))
    assert isinstance(copy_, AuthenticationFailed)
    assert (copy_.status, copy_.error_code, copy_.message, copy_.retry_after) == (
        400,
        "OAU-251",
        "bad jwt",
        1.5,
    )
    assert "OAU-251" in str(copy_)
