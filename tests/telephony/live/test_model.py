"""The live model against the three captured RingCentral flows and edge cases."""

from __future__ import annotations

import copy
import json
import random
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import msgpack
import pytest

from telephony.live.model import Change, LiveModel
from telephony.ringcentral.events import (
    SessionEvent,
    parse_call_session,
    parse_session_event,
)
from tests.support.paths import (
    CAPTURED,
    TELEPHONY as FIXTURES,
)

IVR = "inbound-pstn-ivr-user-hold.json"
INTERNAL = "internal-ext-to-ext-hold.json"
OUTBOUND = "outbound-user-to-pstn-hold.json"
NOW = datetime(2026, 1, 15, 10, 6, 0, tzinfo=UTC)

# After each event: state, agent party, customer party, direction, statuses.
# Parties are named by their creation number (p-<hex>-N).
EXPECTED = {
    IVR: [
        ("setup", None, "1", "Inbound", "1:Setup"),
        ("setup", "2", "1", "Inbound", "1:Setup 2:Setup"),
        ("setup", "2", "1", "Inbound", "1:Answered 2:Setup"),
        ("talking", None, "1", "Inbound", "1:Answered 2:Disconnected"),
        ("setup", "3", "1", "Inbound", "1:Answered 2:Disconnected 3:Setup"),
        ("ringing", "3", "1", "Inbound", "1:Answered 2:Disconnected 3:Proceeding"),
        ("talking", "3", "1", "Inbound", "1:Answered 2:Disconnected 3:Answered"),
        ("held", "3", "1", "Inbound", "1:Answered 2:Disconnected 3:Hold"),
        ("talking", "3", "1", "Inbound", "1:Answered 2:Disconnected 3:Answered"),
        ("talking", None, "1", "Inbound", "1:Answered 2:Disconnected 3:Disconnected"),
        ("ended", "3", "1", "Inbound", "1:Disconnected 2:Disconnected 3:Disconnected"),
    ],
    INTERNAL: [
        ("setup", "1", None, "Outbound", "1:Setup"),
        ("setup", "2", "1", "Internal", "1:Setup 2:Setup"),
        ("setup", "2", "1", "Internal", "1:Answered 2:Setup"),
        ("ringing", "2", "1", "Internal", "1:Answered 2:Proceeding"),
        ("talking", "2", "1", "Internal", "1:Answered 2:Answered"),
        ("held", "2", "1", "Internal", "1:Hold 2:Answered"),
        ("talking", "2", "1", "Internal", "1:Answered 2:Answered"),
        ("talking", "2", "1", "Internal", "1:Disconnected 2:Answered"),
        ("ended", "2", "1", "Internal", "1:Disconnected 2:Disconnected"),
    ],
    OUTBOUND: [
        ("setup", "1", None, "Outbound", "1:Setup"),
        ("setup", "1", "2", "Outbound", "1:Setup 2:Proceeding"),
        ("ringing", "1", "2", "Outbound", "1:Proceeding 2:Proceeding"),
        ("ringing", "1", "2", "Outbound", "1:Proceeding 2:Answered"),
        ("talking", "1", "2", "Outbound", "1:Answered 2:Answered"),
        ("held", "1", "2", "Outbound", "1:Hold 2:Answered"),
        ("talking", "1", "2", "Outbound", "1:Answered 2:Answered"),
        ("talking", None, "2", "Outbound", "1:Disconnected 2:Answered"),
        ("ended", "1", "2", "Outbound", "1:Disconnected 2:Disconnected"),
    ],
}
CALL_KEYS = {
    *("id", "session_id", "origin", "sequence", "started_at", "updated_at", "state"),
    *("direction", "agent_party_id", "customer_party_id", "answered_at", "hold_count"),
    *("queue", "parties"),
}
PARTY_KEYS = {
    *("id", "account_id", "extension_id", "direction", "status", "reason", "since"),
    *("from_", "to", "muted", "stand_alone", "missed_call", "queue_call", "park_id"),
    *("recordings", "sequence", "role"),
}


def flow(name: str) -> list[dict[str, Any]]:
    envelopes: list[dict[str, Any]] = json.loads((CAPTURED / name).read_text())
    return envelopes


def events(name: str) -> list[SessionEvent]:
    return [parse_session_event(env) for env in flow(name)]


def resent(name: str, sequence: int, **party: Any) -> SessionEvent:
    """A flow's event again under a new uuid (not a duplicate), maybe edited."""
    env = copy.deepcopy(
        next(e for e in flow(name) if e["body"]["sequence"] == sequence)
    )
    env["uuid"] = f"{env['uuid']}-again"
    env["body"]["parties"][0].update(party)
    return parse_session_event(env)


def short(party_id: str | None) -> str | None:
    return None if party_id is None else party_id.rsplit("-", 1)[1]


def describe(call: dict[str, Any]) -> tuple[Any, ...]:
    statuses = " ".join(f"{short(p['id'])}:{p['status']}" for p in call["parties"])
    return (
        call["state"],
        short(call["agent_party_id"]),
        short(call["customer_party_id"]),
        call["direction"],
        statuses,
    )


def replay(model: LiveModel, name: str, upto: int | None = None) -> list[Change]:
    changes = []
    for event in events(name):
        if upto is not None and event.sequence > upto:
            break
        change = model.apply(event)
        assert change is not None
        changes.append(change)
    return changes


@pytest.mark.parametrize("name", [IVR, INTERNAL, OUTBOUND])
def test_captured_flow_state_after_every_event(name: str) -> None:
    model = LiveModel()
    changes = replay(model, name)
    assert [describe(c.call) for c in changes] == EXPECTED[name]
    assert [c.kind for c in changes] == ["updated"] * (len(changes) - 1) + ["ended"]
    assert len(model) == 0
    assert model.get(changes[0].call["id"]) is None
    assert model.snapshot() == (len(changes), [])


def test_ivr_flow_agent_is_the_user_party_from_seq_6() -> None:
    model = LiveModel()
    replay(model, IVR, upto=6)
    call = model.get("s-718107795d564867a6f635fd81e89940")
    assert call is not None
    assert call["agent_party_id"] == "p-718107795d564867a6f635fd81e89940-3"
    assert call["customer_party_id"] == "p-718107795d564867a6f635fd81e89940-1"


def test_ivr_flow_times_and_counters() -> None:
    calls = [c.call for c in replay(LiveModel(), IVR)]
    assert {c["started_at"] for c in calls} == {"2020-06-23T01:05:43.940Z"}
    answered = "2020-06-23T01:06:00.001Z"
    assert [c["answered_at"] for c in calls] == [None] * 6 + [answered] * 3 + [
        None,  # the agent hung up first: no live agent party
        answered,
    ]
    assert [c["hold_count"] for c in calls] == [0] * 7 + [1] * 4
    held = calls[7]
    assert held["updated_at"] == "2020-06-23T01:06:04.601Z"
    assert held["parties"][2]["since"] == "2020-06-23T01:06:04.601Z"
    assert held["parties"][0]["since"] == "2020-06-23T01:05:44.083Z"
    assert held["sequence"] == 9
    assert [p["sequence"] for p in held["parties"]] == [4, 5, 9]
    assert (held["session_id"], held["origin"]) == ("429180487016", "Call")


def test_internal_flow_counts_the_callers_hold() -> None:
    final = replay(LiveModel(), INTERNAL)[-1].call
    assert final["hold_count"] == 1
    assert final["answered_at"] == "2020-06-23T01:17:21.084Z"


def test_call_dicts_are_json_and_msgpack_ready() -> None:
    model = LiveModel()
    for name in (IVR, INTERNAL, OUTBOUND):
        for change in replay(model, name):
            call = change.call
            assert set(call) == CALL_KEYS
            assert all(set(p) == PARTY_KEYS for p in call["parties"])
            assert json.loads(json.dumps(call)) == call
            assert msgpack.unpackb(msgpack.packb(call)) == call


def test_version_increments_by_one_per_change() -> None:
    model = LiveModel()
    versions = [
        c.version for name in (IVR, INTERNAL, OUTBOUND) for c in replay(model, name)
    ]
    assert versions == list(range(1, 30))
    assert model.version == 29


def all_envelopes() -> list[dict[str, Any]]:
    return [env for name in (IVR, INTERNAL, OUTBOUND) for env in flow(name)]


@pytest.mark.parametrize("seed", range(25))
def test_shuffled_flows_with_duplicates_reach_the_same_end(seed: int) -> None:
    rng = random.Random(seed)
    deliveries = all_envelopes() + rng.sample(all_envelopes(), 12)
    rng.shuffle(deliveries)
    model = LiveModel()
    changes = [model.apply(parse_session_event(env)) for env in deliveries]
    published = [c for c in changes if c is not None]
    assert [c.version for c in published] == list(range(1, len(published) + 1))
    assert len(model) == 0
    assert model.snapshot() == (model.version, [])
    last: dict[str, Change] = {c.call["id"]: c for c in published}
    for change in last.values():
        assert change.kind == "ended"
        assert all(p["status"] == "Disconnected" for p in change.call["parties"])
    # Everything again, as a recovery replay would deliver it: no change.
    again = [model.apply(resent_envelope(env)) for env in all_envelopes()]
    assert again == [None] * 29


def resent_envelope(env: dict[str, Any]) -> SessionEvent:
    return parse_session_event({**env, "uuid": env["uuid"] + "-replayed"})


def test_stale_event_after_a_newer_one_is_dropped() -> None:
    model = LiveModel()
    replay(model, IVR, upto=9)
    assert model.apply(resent(IVR, 8)) is None
    assert model.apply(resent(IVR, 6)) is None
    assert model.version == 8
    call = model.get("s-718107795d564867a6f635fd81e89940")
    assert call is not None
    assert call["state"] == "held"


def test_duplicate_uuid_is_dropped() -> None:
    model = LiveModel()
    first = events(IVR)[0]
    assert model.apply(first) is not None
    assert model.apply(first) is None
    assert model.version == 1


def test_identical_state_under_a_new_sequence_is_a_no_op() -> None:
    model = LiveModel()
    replay(model, OUTBOUND, upto=8)
    assert model.apply(replace(resent(OUTBOUND, 8), sequence=9)) is None
    assert model.apply(resent(OUTBOUND, 8)) is None  # now stale


def test_brand_new_session_whose_first_event_is_final_is_ignored() -> None:
    model = LiveModel()
    assert model.apply(events(IVR)[-1]) is None
    assert len(model) == 0
    assert model.version == 0


def test_ended_call_is_not_resurrected_by_late_events() -> None:
    model = LiveModel()
    replay(model, IVR)
    assert model.apply(resent(IVR, 8)) is None
    assert model.apply(resent(IVR, 3)) is None
    assert (
        model.apply(resent(IVR, 7, id="p-718107795d564867a6f635fd81e89940-4")) is None
    )
    assert len(model) == 0


def test_news_after_the_end_revives_the_call() -> None:
    model = LiveModel()
    replay(model, IVR)
    p4, p5 = (
        "p-718107795d564867a6f635fd81e89940-4",
        "p-718107795d564867a6f635fd81e89940-5",
    )
    assert model.apply(replace(resent(IVR, 12, id=p4), sequence=13)) is None  # final
    change = model.apply(replace(resent(IVR, 6, id=p5), sequence=14))
    assert change is not None
    assert change.kind == "updated"
    assert describe(change.call) == ("setup", "5", None, "Inbound", "5:Setup")


@pytest.mark.parametrize("reason", ["Pickup", "CallSwitch"])
def test_disconnect_that_moves_the_call_does_not_end_it(reason: str) -> None:
    model = LiveModel()
    replay(model, OUTBOUND, upto=8)
    switched = resent(OUTBOUND, 9, status={"code": "Disconnected", "reason": reason})
    change = model.apply(switched)
    assert change is not None
    assert change.kind == "updated"
    assert change.call["state"] == "talking"
    assert change.call["parties"][0]["reason"] == reason
    assert model.apply(resent(OUTBOUND, 10)) is not None
    assert len(model) == 1


def test_event_with_two_parties_merges_both() -> None:
    env = copy.deepcopy(flow(OUTBOUND)[4])  # seq 6: p-1 Answered
    env["body"]["parties"].append(flow(OUTBOUND)[3]["body"]["parties"][0])
    change = LiveModel().apply(parse_session_event(env))
    assert change is not None
    assert describe(change.call) == (
        "talking",
        "1",
        "2",
        "Outbound",
        "1:Answered 2:Answered",
    )


def test_snapshot_is_sorted_by_start_time() -> None:
    model = LiveModel()
    for name in (OUTBOUND, INTERNAL, IVR):
        replay(model, name, upto=4)
    version, calls = model.snapshot()
    assert version == 9
    assert [c["started_at"] for c in calls] == [
        "2020-06-23T01:05:43.940Z",
        "2020-06-23T01:17:14.330Z",
        "2020-06-23T01:19:21.627Z",
    ]
    assert len(model) == 3
    assert model.get(calls[0]["id"]) == calls[0]


# REST view (load_session) and remove ------------------------------------------


def rest_body(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = json.loads((FIXTURES / "call_session.json").read_text())
    for index, status in changes.items():
        body["parties"][int(index[1:]) - 1]["status"] = status
    return body


def test_load_session_adds_an_unknown_call() -> None:
    model = LiveModel()
    change = model.load_session(parse_call_session(rest_body()), now=NOW)
    assert change is not None
    assert (change.kind, change.version) == ("updated", 1)
    call = change.call
    assert describe(call) == ("talking", "2", "1", "Inbound", "1:Answered 2:Answered")
    assert call["started_at"] == "2026-01-15T10:04:55.000Z"
    assert call["updated_at"] == call["answered_at"] == "2026-01-15T10:06:00.000Z"
    assert call["parties"][1]["recordings"] == [{"id": "8100000001", "active": True}]
    assert json.loads(json.dumps(call)) == call


def test_load_session_without_differences_is_a_no_op() -> None:
    model = LiveModel()
    model.load_session(parse_call_session(rest_body()), now=NOW)
    later = NOW + timedelta(seconds=30)
    assert model.load_session(parse_call_session(rest_body()), now=later) is None
    assert model.version == 1


def test_load_session_reports_a_changed_party() -> None:
    model = LiveModel()
    model.load_session(parse_call_session(rest_body()), now=NOW)
    later = NOW + timedelta(seconds=30)
    snap = parse_call_session(rest_body(p2={"code": "Hold"}))
    change = model.load_session(snap, now=later)
    assert change is not None
    assert (change.kind, change.call["state"], change.call["hold_count"]) == (
        "updated",
        "held",
        1,
    )
    assert change.call["parties"][1]["since"] == "2026-01-15T10:06:30.000Z"
    assert change.call["parties"][0]["since"] == "2026-01-15T10:06:00.000Z"


def test_load_session_ends_a_call_whose_parties_are_all_finished() -> None:
    model = LiveModel()
    model.load_session(parse_call_session(rest_body()), now=NOW)
    gone = {"code": "Disconnected"}
    change = model.load_session(
        parse_call_session(rest_body(p1=gone, p2=gone)), now=NOW
    )
    assert change is not None
    assert (change.kind, change.call["state"]) == ("ended", "ended")
    assert len(model) == 0


def test_load_session_of_an_unknown_finished_call_is_ignored() -> None:
    model = LiveModel()
    gone = {"code": "Disconnected"}
    assert (
        model.load_session(parse_call_session(rest_body(p1=gone, p2=gone)), now=NOW)
        is None
    )
    assert len(model) == 0


def test_load_session_keeps_dropping_stale_events() -> None:
    model = LiveModel()
    replay(model, IVR, upto=9)
    envelopes = flow(IVR)
    rest = {
        "id": "s-718107795d564867a6f635fd81e89940",
        "creationTime": "2020-06-23T01:05:43Z",
        "origin": {"type": "Call"},
        "parties": [
            envelopes[2]["body"]["parties"][0],
            envelopes[6]["body"]["parties"][0],
        ],
    }
    change = model.load_session(parse_call_session(rest), now=NOW)
    assert change is not None
    assert describe(change.call) == (
        "talking",
        "3",
        "1",
        "Inbound",
        "1:Answered 3:Answered",
    )
    assert change.call["started_at"] == "2020-06-23T01:05:43.000Z"
    assert change.call["hold_count"] == 1
    assert model.apply(resent(IVR, 7)) is None  # older than the REST view
    assert model.apply(resent(IVR, 3)) is None  # the IVR leg REST no longer lists
    assert model.apply(resent(IVR, 9)) is None
    # seq 10 says what REST said already (Answered): nothing to publish.
    replay_rest = [model.apply(e) for e in events(IVR)[8:]]
    assert [c.kind if c else None for c in replay_rest] == [None, "updated", "ended"]


def test_remove_ends_a_live_call_for_good() -> None:
    model = LiveModel()
    replay(model, IVR, upto=8)
    change = model.remove("s-718107795d564867a6f635fd81e89940")
    assert change is not None
    assert (change.kind, change.version, change.call["state"]) == ("ended", 8, "ended")
    assert change.call["agent_party_id"] == "p-718107795d564867a6f635fd81e89940-3"
    assert model.remove("s-718107795d564867a6f635fd81e89940") is None
    assert model.apply(resent(IVR, 7)) is None
    assert model.apply(resent(IVR, 9)) is None  # in flight before the 404
    assert len(model) == 0


def test_load_session_brings_back_a_call_rest_still_lists() -> None:
    model = LiveModel()
    replay(model, IVR, upto=8)
    model.remove("s-718107795d564867a6f635fd81e89940")
    rest = {
        "id": "s-718107795d564867a6f635fd81e89940",
        "parties": [
            flow(IVR)[2]["body"]["parties"][0],
            flow(IVR)[7]["body"]["parties"][0],
        ],
    }
    change = model.load_session(parse_call_session(rest), now=NOW)
    assert change is not None
    assert change.kind == "updated"
    assert describe(change.call) == ("held", "3", "1", "Inbound", "1:Answered 3:Hold")
    assert change.call["sequence"] == 8
    assert model.apply(resent(IVR, 8)) is None
    assert model.apply(events(IVR)[8]) is not None  # seq 10: unhold


def test_memory_of_uuids_and_ended_calls_is_bounded() -> None:
    model = LiveModel(recent_uuids=5, ended_sessions=1)
    replay(model, IVR)
    replay(model, OUTBOUND)
    assert len(model._recent) == len(model._recent_set) == 5
    assert list(model._dormant) == ["s-c23b203d62db4f6aaee00717bafa99be"]
    # The IVR call was forgotten: a late event for it is news again.
    assert model.apply(resent(IVR, 8)) is not None


def queue_call(*, monitor: bool = False) -> list[SessionEvent]:
    """Caller -> the Sales queue's leg -> agent 101 answers; maybe a
    supervisor's leg listens in from the supervisor's desk phone."""

    def event(seq: int, party: dict[str, Any]) -> SessionEvent:
        return parse_session_event(
            {
                "uuid": f"u-{seq}",
                "event": "/restapi/v1.0/account/1/telephony/sessions",
                "body": {
                    "sequence": seq,
                    "telephonySessionId": "s-q",
                    "eventTime": f"2026-01-15T10:00:{seq:02d}.000Z",
                    "parties": [party],
                },
            }
        )

    caller = {
        "id": "p-1",
        "direction": "Outbound",
        "status": {"code": "Answered"},
        "from": {"phoneNumber": "+14155550100"},
    }
    queue = {
        "id": "p-2",
        "extensionId": "201",
        "direction": "Inbound",
        "status": {"code": "Answered"},
        "to": {"name": "Sales"},
    }
    agent = {
        "id": "p-3",
        "extensionId": "101",
        "direction": "Inbound",
        "status": {"code": "Answered"},
        "queueCall": True,
        "to": {"extensionId": "101", "name": "Alice Agent"},
    }
    gone = {**queue, "status": {"code": "Disconnected"}}
    listen = {
        "id": "p-4",
        "extensionId": "102",
        "direction": "Inbound",
        "status": {"code": "Answered"},
        "from": {"extensionId": "101"},
        "to": {"deviceId": "800102"},
    }
    events = [event(2, caller), event(3, queue), event(4, agent), event(5, gone)]
    return events + ([event(6, listen)] if monitor else [])  # fmt: skip


def test_a_queue_leg_is_the_calls_queue_not_its_agent() -> None:
    model = LiveModel()
    model.known.queues = {"201": "Sales"}
    change = model.apply(queue_call()[0])
    change = model.apply(queue_call()[1])
    assert change is not None
    assert change.call["agent_party_id"] is None  # only the queue's leg yet
    assert change.call["queue"] == {"extension_id": "201", "name": "Sales"}
    for event in queue_call()[2:]:
        change = model.apply(event) or change
    assert change.call["agent_party_id"] == "p-3"
    assert change.call["queue"] == {"extension_id": "201", "name": "Sales"}
    roles = {p["id"]: p["role"] for p in change.call["parties"]}
    assert roles == {"p-1": "customer", "p-2": "queue", "p-3": "agent"}


def test_a_supervisors_listening_leg_is_never_the_agent() -> None:
    model = LiveModel()
    model.known.monitor_devices = frozenset({"800102"})
    change = None
    for event in queue_call(monitor=True):
        change = model.apply(event) or change
    assert change is not None
    assert change.call["agent_party_id"] == "p-3"
    roles = {p["id"]: p["role"] for p in change.call["parties"]}
    assert roles["p-4"] == "monitor"


def test_a_leg_the_worker_marks_as_listening_is_republished_as_such() -> None:
    model = LiveModel()
    for event in queue_call(monitor=True):
        model.apply(event)
    change = model.mark_monitor("s-q", "p-4")
    assert change is not None
    assert {p["id"]: p["role"] for p in change.call["parties"]}["p-4"] == "monitor"
    assert change.call["agent_party_id"] == "p-3"
