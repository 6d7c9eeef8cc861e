"""RingCentral's account presence with detailed telephony state, read as
the live calls it lists (docs/ringcentral.md 8.2): what a resync starts
from. `GET /account/~/presence?detailedTelephonyState=true` is in the Heavy
group (10 a minute) and paged; each record's `activeCalls` carry the
extension's own legs only, with a presence status instead of a party's.
"""

from __future__ import annotations

import logging
from typing import Any

from telephony.ringcentral.client import RingCentralClient
from telephony.ringcentral.events import CallSessionSnapshot, parse_call_session
from telephony.ringcentral.exceptions import MalformedFrame

logger = logging.getLogger("telephony.ringcentral.presence")

# Presence's telephonyStatus -> the party status code it stands for.
STATUS_FROM_PRESENCE = {
    "Ringing": "Proceeding",
    "CallConnected": "Answered",
    "OnHold": "Hold",
    "ParkedCall": "Parked",
}
MAX_PRESENCE_PAGES = 100  # 100,000 extensions at 1,000 a page


def _endpoint(value: Any, name: Any) -> dict[str, Any]:
    if isinstance(value, dict):
        return {**value, "name": value.get("name") or name}
    return {"phoneNumber": value, "name": name}


def presence_party(
    call: dict[str, Any], extension_id: str, code: str
) -> dict[str, Any]:
    """One presence `activeCalls` item as a REST CallParty (own leg only)."""
    direction = call.get("direction")
    own, other = ("to", "from") if direction == "Inbound" else ("from", "to")
    party = {
        "id": call["partyId"],
        "extensionId": extension_id,
        "direction": direction,
        own: {
            **_endpoint(call.get(own), call.get(f"{own}Name")),
            "extensionId": extension_id,
        },
        other: _endpoint(call.get(other), call.get(f"{other}Name")),
        "status": {"code": code},
    }
    if call.get("queueCall"):
        party["queueCall"] = True
    return party


def sessions_from_presence(
    records: list[dict[str, Any]],
) -> dict[str, CallSessionSnapshot]:
    """Group presence records' active calls by telephony session."""
    sessions: dict[str, dict[str, Any]] = {}
    for record in records:
        extension_id = str((record.get("extension") or {}).get("id", ""))
        for call in record.get("activeCalls") or []:
            code = STATUS_FROM_PRESENCE.get(call.get("telephonyStatus", ""))
            session_id = call.get("telephonySessionId")
            if code is None or not session_id or not call.get("partyId"):
                continue
            session = sessions.setdefault(
                session_id,
                {
                    "id": session_id,
                    "creationTime": call.get("startTime"),
                    "parties": [],
                },
            )
            session["parties"].append(presence_party(call, extension_id, code))
    snapshots = {}
    for session_id, body in sessions.items():
        try:
            snapshots[session_id] = parse_call_session(body)
        except MalformedFrame as exc:
            logger.warning("skipping presence entry %s: %s", session_id, exc)
    return snapshots


async def fetch_presence(client: RingCentralClient) -> list[dict[str, Any]]:
    """Every extension's presence record with its active calls, all pages."""
    records: list[dict[str, Any]] = []
    for page in range(1, MAX_PRESENCE_PAGES + 1):
        body = await client.account_presence(page=page)
        records.extend(body.get("records") or [])
        if not (body.get("navigation") or {}).get("nextPage"):
            break
    return records
