"""Complete typed call views for tests that need a call but not a floor."""

from __future__ import annotations

from typing import Any

from telephony.live.views import CallView, EndpointView, PartyView


def endpoint(**fields: Any) -> EndpointView:
    view: EndpointView = {
        "phone_number": None,
        "name": None,
        "extension_id": None,
        "device_id": None,
    }
    view.update(fields)  # type: ignore[typeddict-item]
    return view


def party(party_id: str = "p-1-2", **fields: Any) -> PartyView:
    view: PartyView = {
        "id": party_id,
        "account_id": "1000000001",
        "extension_id": None,
        "direction": "Inbound",
        "status": "Answered",
        "reason": None,
        "since": "2026-01-15T10:00:00.000Z",
        "from_": endpoint(phone_number="+14155550123"),
        "to": endpoint(phone_number="+16505550100"),
        "muted": False,
        "stand_alone": False,
        "missed_call": False,
        "queue_call": False,
        "park_id": None,
        "recordings": [],
        "sequence": 2,
        "role": "other",
    }
    view.update(fields)  # type: ignore[typeddict-item]
    return view


def call_view(call_id: str = "s-1", **fields: Any) -> CallView:
    view: CallView = {
        "id": call_id,
        "session_id": "1234",
        "origin": "Call",
        "sequence": 2,
        "started_at": "2026-01-15T10:00:00.000Z",
        "updated_at": "2026-01-15T10:00:00.000Z",
        "state": "talking",
        "direction": "Inbound",
        "agent_party_id": None,
        "customer_party_id": None,
        "answered_at": None,
        "hold_count": 0,
        "queue": None,
        "parties": [],
    }
    view.update(fields)  # type: ignore[typeddict-item]
    return view
