"""Presence with detailed telephony state -> session snapshots."""

from __future__ import annotations

from telephony.ringcentral.presence import sessions_from_presence
from telephony.worker.resync import Report

RECORDS = [
    {
        "extension": {"id": 1000000101, "extensionNumber": "101"},
        "activeCalls": [
            {
                "id": "c1",
                "direction": "Inbound",
                "from": "+14155550100",
                "fromName": "WIRELESS CALLER",
                "to": "+16505550100",
                "toName": "Alice Agent",
                "startTime": "2026-01-15T10:00:00.000Z",
                "telephonyStatus": "OnHold",
                "sessionId": "123",
                "telephonySessionId": "s-a",
                "partyId": "p-a-2",
            },
            {
                "telephonySessionId": "s-x",
                "partyId": "p-x-1",
                "telephonyStatus": "NoCall",
            },
        ],
    },
    {
        "extension": {"id": 1000000102, "extensionNumber": "102"},
        "activeCalls": [
            {
                "direction": "Outbound",
                "from": {"phoneNumber": "102"},
                "to": {"phoneNumber": "101"},
                "telephonyStatus": "Ringing",
                "telephonySessionId": "s-b",
                "partyId": "p-b-1",
            }
        ],
    },
]


def test_presence_becomes_one_snapshot_per_session_with_the_extension_legs():
    snapshots = sessions_from_presence(RECORDS)
    assert set(snapshots) == {"s-a", "s-b"}  # NoCall entries are not calls
    held = snapshots["s-a"].parties[0]
    assert (held.id, held.status.code, held.extension_id) == (
        "p-a-2",
        "Hold",
        "1000000101",
    )
    assert held.direction == "Inbound"
    assert held.to.extension_id == "1000000101"
    assert (held.from_.phone_number, held.from_.name) == (
        "+14155550100",
        "WIRELESS CALLER",
    )
    ringing = snapshots["s-b"].parties[0]
    assert ringing.status.code == "Proceeding"
    assert ringing.from_.extension_id == "1000000102"


def test_report_line_reads_like_the_issue_asks():
    report = Report(added=1, ended=2, changed=3, live=4)
    assert report.line(0.25).startswith("resync: 2 ended, 1 added, 3 changed")
