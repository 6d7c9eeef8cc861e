"""RingCentral's JSON shapes for engine objects (pure functions).

Field order and presence follow the captured notifications: `park: {}`,
`rcc: false` and the `missedCall/standAlone/muted` booleans are always
present; optional names and ids are omitted rather than sent as null.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from telephony.simulator.engine.model import (
    Endpoint,
    Party,
    PartyChange,
    Recording,
    Session,
)
from telephony.simulator.engine.presence import (
    MAX_EVENT_CALLS,
    ActiveCall,
    PresenceChange,
    PresenceState,
)

JsonDict = dict[str, Any]

# docs/ringcentral.md 6.4: the SIP target and service level values RingCentral
# puts in mobilePickupData; clients must not interpret them.
PICKUP_SIP_TO = "#1052016@sip.ringcentral.com:5060"
PICKUP_SERVICE_LEVEL = "-149699523"
PICKUP_SERVICE_LEVEL_EXT = "406"


def iso_ms(moment: datetime) -> str:
    """UTC time with milliseconds, as events carry it (…T01:05:44.013Z)."""
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def iso_s(moment: datetime) -> str:
    """UTC time with second precision, as REST session objects carry it."""
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def endpoint(value: Endpoint) -> JsonDict:
    """`from`/`to` object; absent fields are left out, not nulled."""
    data: JsonDict = {"phoneNumber": value.phone_number}
    if value.name is not None:
        data["name"] = value.name
    if value.extension_id is not None:
        data["extensionId"] = value.extension_id
    if value.device_id is not None:
        data["deviceId"] = value.device_id
    return data


def status(party: Party, *, with_pickup: bool) -> JsonDict:
    """`status` object; mobilePickupData only appears in events."""
    data: JsonDict = {"code": party.status}
    if party.reason is not None:
        data["reason"] = party.reason
    if party.park_data is not None:
        data["parkData"] = party.park_data
    if party.peer is not None:
        data["peerId"] = {
            "sessionId": party.peer.legacy_id,
            "telephonySessionId": party.peer.session_id,
            "partyId": party.peer.party_id,
        }
    if with_pickup and party.pickup is not None:
        data["mobilePickupData"] = {
            "ccMailboxes": list(party.pickup.mailboxes),
            "to": PICKUP_SIP_TO,
            "sid": party.pickup.sid,
            "srvLvl": PICKUP_SERVICE_LEVEL,
            "srvLvlExt": PICKUP_SERVICE_LEVEL_EXT,
        }
    data["rcc"] = False
    return data


def event_party(party: Party) -> JsonDict:
    """Party as it appears in a telephony/sessions notification."""
    data: JsonDict = {"accountId": party.account_id}
    if party.extension_id is not None:
        data["extensionId"] = party.extension_id
    data.update(
        {
            "id": party.id,
            "direction": party.direction,
            "to": endpoint(party.to),
            "from": endpoint(party.from_),
            "status": status(party, with_pickup=True),
            "park": park(party),
            "missedCall": party.missed_call,
            "standAlone": party.stand_alone,
            "muted": party.muted,
        }
    )
    if party.recordings:
        data["recordings"] = recordings(party)
    if party.queue_call:
        data["queueCall"] = True
    if party.ui_call_info is not None:
        data["uiCallInfo"] = {
            "primary": {"type": "QueueName", "value": party.ui_call_info.queue_name},
            "additional": {
                "type": "CallerIdName",
                "value": party.ui_call_info.caller_name,
            },
        }
    if party.conference_role is not None:
        data["conferenceRole"] = party.conference_role
    return data


def park(party: Party) -> JsonDict:
    """`park`: `{}` unless parked, then `{"id": …}`."""
    return {} if party.park_id is None else {"id": party.park_id}


def recordings(party: Party) -> list[JsonDict]:
    """`recordings[]`: `{id, active}` per recording of the party."""
    return [recording(r) for r in party.recordings]


def recording(value: Recording) -> JsonDict:
    """`CallRecording` / `RecordingInfo`."""
    return {"id": value.id, "active": value.active}


def event_body(change: PartyChange, server_id: str) -> JsonDict:
    """`body` of a telephony/sessions notification (one party)."""
    return {
        "sequence": change.sequence,
        "sessionId": change.legacy_id,
        "telephonySessionId": change.session_id,
        "serverId": server_id,
        "eventTime": iso_ms(change.event_time),
        "parties": [event_party(change.party)],
        "origin": {"type": change.origin},
    }


def event_path(account_id: str, party: Party) -> str:
    """Concrete `event` path: extension path for users, else account path."""
    if party.extension_id is None:
        return f"/restapi/v1.0/account/{account_id}/telephony/sessions"
    return (
        f"/restapi/v1.0/account/{account_id}/extension/"
        f"{party.extension_id}/telephony/sessions"
    )


def call_party(party: Party) -> JsonDict:
    """REST `CallParty` (Call Control responses and GET session)."""
    data: JsonDict = {"id": party.id, "accountId": party.account_id}
    if party.extension_id is not None:
        data["extensionId"] = party.extension_id
    data.update(
        {
            "direction": party.direction,
            "from": endpoint(party.from_),
            "to": endpoint(party.to),
            "status": status(party, with_pickup=False),
            "muted": party.muted,
            "standAlone": party.stand_alone,
            "park": park(party),
        }
    )
    if party.recordings:
        data["recordings"] = recordings(party)
    if party.queue_call:
        data["attributes"] = {"queueCall": True}
    if party.conference_role is not None:
        data["conferenceRole"] = party.conference_role
    if party.extension_id is not None:
        # Deprecated but still sent by the platform (docs/ringcentral.md 7.1).
        data["owner"] = {
            "accountId": party.account_id,
            "extensionId": party.extension_id,
        }
    return data


def call_session(session: Session) -> JsonDict:
    """REST `CallSessionObject` (unwrapped, as GET session returns it)."""
    data: JsonDict = {
        "id": session.id,
        "creationTime": iso_s(session.created_at),
        "origin": {"type": session.origin},
        "parties": [call_party(p) for p in session.parties.values()],
    }
    if session.voice_call_token is not None:
        data["voiceCallToken"] = session.voice_call_token
    return data


def short_party(party: Party) -> JsonDict:
    """`ReplyParty` / `SuperviseCallSessionResponse`: CallParty's core."""
    full = call_party(party)
    keep = ("id", "accountId", "extensionId", "direction", "from", "to")
    data = {key: full[key] for key in keep if key in full}
    data.update(status=full["status"], muted=party.muted, standAlone=party.stand_alone)
    if "owner" in full:
        data["owner"] = full["owner"]
    return data


# -- presence (docs/ringcentral.md 8.2 and 8.5) ---------------------------------


def active_call(call: ActiveCall) -> JsonDict:
    """`ActiveCallInfo` / `ActiveCallInfoWithoutSIP`: one leg of the
    extension; `id` and `partyId` are the party id."""
    data: JsonDict = {
        "id": call.party_id,
        "direction": call.direction,
        "from": call.from_number,
        "to": call.to_number,
        "startTime": iso_ms(call.started_at),
        "telephonyStatus": call.status,
        "sessionId": call.legacy_id,
        "telephonySessionId": call.session_id,
        "partyId": call.party_id,
        "queueCall": call.queue_call,
    }
    if call.from_name is not None:
        data["fromName"] = call.from_name
    if call.to_name is not None:
        data["toName"] = call.to_name
    if call.ended:
        data["terminationType"] = "final"
    return data


def presence_fields(state: PresenceState) -> JsonDict:
    """What REST presence and presence notifications share."""
    return {
        "telephonyStatus": state.telephony_status,
        "presenceStatus": state.presence_status,
        "userStatus": state.user_status,
        "dndStatus": state.dnd_status,
        "meetingStatus": "Disconnected",
        "allowSeeMyPresence": True,
        "ringOnMonitoredCall": False,
        "pickUpCallsOnHold": False,
    }


def presence_event_body(
    change: PresenceChange, owner_id: str, *, detailed: bool
) -> JsonDict:
    """`body` of a presence notification: `AccountPresenceEventBody` /
    `ExtensionPresenceEventBody`, plus `activeCalls` (the latest seven,
    calls that just ended first as `NoCall`/`final`) and
    `totalActiveCalls` when detailed (`DetailedExtensionPresenceEventBody`)."""
    state = change.state
    body: JsonDict = {
        "extensionId": change.extension_id,
        "sequence": change.sequence,
        **presence_fields(state),
        "ownerId": owner_id,
    }
    if detailed:
        ended = change.ended[:MAX_EVENT_CALLS]
        room = MAX_EVENT_CALLS - len(ended)
        live = state.calls[-room:] if room > 0 else ()
        body["activeCalls"] = [active_call(c) for c in (*ended, *live)]
        body["totalActiveCalls"] = len(state.calls)
    return body


def presence_event_path(account_id: str, extension_id: str, *, detailed: bool) -> str:
    """Concrete `event` path: always the extension's own presence path,
    whichever filter matched; detailed ones keep their query."""
    path = f"/restapi/v1.0/account/{account_id}/extension/{extension_id}/presence"
    return path + ("?detailedTelephonyState=true" if detailed else "")
