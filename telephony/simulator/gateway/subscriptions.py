"""Event filters and WebSocket subscriptions (docs/ringcentral.md 5.6, 6.1, 8.5).

Pure: parse and normalise telephony/sessions and presence filters, decide
which parties' events and which extensions' presence a subscription sees,
and render `SubscriptionInfo`. One subscription may mix both kinds.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

from telephony.simulator.engine.engine import Party
from telephony.simulator.engine.wire import iso_ms
from telephony.simulator.rest.errors import ApiError, api_error

# WebSocket subscriptions renew themselves while the socket lives; the
# platform still reports a one-day lifetime (docs/ringcentral.md 5.5).
EXPIRES_IN = 86399

_FILTER = re.compile(
    r"^/restapi/v1\.0/account/(?P<account>[^/]+)"
    r"(?:/extension/(?P<extension>[^/]+))?/(?P<kind>telephony/sessions|presence)$"
)
_STATUS_CODES = frozenset(
    {
        "Setup",
        "Proceeding",
        "Answered",
        "Hold",
        "Parked",
        "Disconnected",
        "Gone",
        "Voicemail",
        "VoiceMail",
        "VoiceMailScreening",
        "FaxReceive",
    }
)
# Parameters that change the payload, not the selection; accepted, ignored.
_IGNORED_PARAMS = frozenset({"sipData", "withRecordings"})


@dataclass(frozen=True)
class EventFilter:
    """One parsed telephony/sessions filter."""

    normalised: str
    extension_id: str | None
    direction: str | None = None
    status_code: str | None = None
    missed_call: bool | None = None
    phone_number: str | None = None

    def matches(self, party: Party) -> bool:
        """True if this filter selects an event about `party`."""
        checks = (
            self.extension_id is None or party.extension_id == self.extension_id,
            self.direction is None or party.direction == self.direction,
            self.status_code is None
            or party.status.lower() == self.status_code.lower(),
            self.missed_call is None or party.missed_call == self.missed_call,
            self.phone_number is None
            or self.phone_number in (party.from_.phone_number, party.to.phone_number),
        )
        return all(checks)


@dataclass(frozen=True)
class PresenceFilter:
    """One parsed presence filter: the account's or one extension's,
    simple or with `detailedTelephonyState=true` (docs/ringcentral.md 8.5)."""

    normalised: str
    extension_id: str | None
    detailed: bool = False

    def matches(self, extension_id: str) -> bool:
        """True if this filter selects presence changes of the extension."""
        return self.extension_id is None or self.extension_id == extension_id


AnyFilter = EventFilter | PresenceFilter


def parse_filter(
    raw: str, *, account_id: str, owner_id: str, extensions: Collection[str]
) -> AnyFilter:
    """Parse one filter; ValueError if the platform would reject it."""
    url = urlsplit(raw)
    match = _FILTER.match(url.path)
    if match is None or match["account"] not in ("~", account_id):
        raise ValueError(raw)
    extension = match["extension"]
    if extension == "~":
        extension = owner_id
    if extension is not None and extension not in extensions:
        raise ValueError(raw)
    path = f"/restapi/v1.0/account/{account_id}"
    path += f"/extension/{extension}" if extension else ""
    path += f"/{match['kind']}" + (f"?{url.query}" if url.query else "")
    if match["kind"] == "presence":
        return PresenceFilter(path, extension, _presence_detail(url.query, raw))
    return EventFilter(path, extension, **_parse_params(url.query, raw))


def _presence_detail(query: str, raw: str) -> bool:
    """`detailedTelephonyState` (true/false) and `sipData` (only with
    detailedTelephonyState=true; accepted, no SIP data is simulated)."""
    params = {
        name: values[-1]
        for name, values in parse_qs(query, keep_blank_values=True).items()
    }
    detailed = params.pop("detailedTelephonyState", "false")
    sip = params.pop("sipData", "false")
    if params or detailed not in ("true", "false") or sip not in ("true", "false"):
        raise ValueError(raw)
    if sip == "true" and detailed != "true":
        raise ValueError(raw)
    return detailed == "true"


def _parse_params(query: str, raw: str) -> dict[str, Any]:
    params: dict[str, Any] = {}
    for name, values in parse_qs(query, keep_blank_values=True).items():
        value = values[-1]
        if name == "direction" and value in ("Inbound", "Outbound"):
            params["direction"] = value
        elif name == "statusCode" and value in _STATUS_CODES:
            params["status_code"] = value
        elif name == "missedCall" and value in ("true", "false"):
            params["missed_call"] = value == "true"
        elif name == "phoneNumber" and value:
            params["phone_number"] = value
        elif name not in _IGNORED_PARAMS:
            raise ValueError(raw)
    return params


@dataclass
class Subscription:
    """One subscription bound to one WebSocket connection."""

    id: str
    owner_id: str
    filters: tuple[AnyFilter, ...]
    created_at: datetime
    _presence_of: tuple[AnyFilter, ...] | None = field(default=None, repr=False)
    _presence: bool = field(default=False, repr=False)

    def matches(self, party: Party) -> bool:
        """True if any telephony filter selects an event about `party`."""
        return any(f.matches(party) for f in self.filters if isinstance(f, EventFilter))

    @property
    def wants_presence(self) -> bool:
        """True if any filter is a presence filter (asked on every presence
        change of every agent: cached per `filters`, which PUT replaces)."""
        if self._presence_of is not self.filters:
            self._presence_of = self.filters
            self._presence = any(isinstance(f, PresenceFilter) for f in self.filters)
        return self._presence

    def presence_mode(self, extension_id: str) -> bool | None:
        """None if no presence filter selects the extension, else whether
        its notifications are detailed. Simple and detailed filters for
        the same extension give only the detailed ones (docs/ringcentral.md 8.5)."""
        modes = {
            f.detailed
            for f in self.filters
            if isinstance(f, PresenceFilter) and f.matches(extension_id)
        }
        return (True in modes) if modes else None

    def info(self, base_url: str) -> dict[str, Any]:
        """`SubscriptionInfo` as the platform returns it."""
        return {
            "uri": f"{base_url}/restapi/v1.0/subscription/{self.id}",
            "id": self.id,
            "creationTime": iso_ms(self.created_at),
            "status": "Active",
            "eventFilters": [f.normalised for f in self.filters],
            "expirationTime": iso_ms(self.created_at + timedelta(seconds=EXPIRES_IN)),
            "expiresIn": EXPIRES_IN,
            "deliveryMode": {"transportType": "WebSocket", "encryption": False},
        }


def parse_request(
    body: Any, *, account_id: str, owner_id: str, extensions: Collection[str]
) -> tuple[AnyFilter, ...]:
    """Validate a create/update body and parse its filters."""
    if not isinstance(body, dict):
        raise api_error(400, "CMN-101", "Request body is not a JSON object")
    delivery = body.get("deliveryMode")
    if delivery is not None and (
        not isinstance(delivery, dict) or delivery.get("transportType") != "WebSocket"
    ):
        raise api_error(
            400,
            "CMN-101",
            "Parameter [deliveryMode.transportType] value is invalid",
            parameterName="deliveryMode.transportType",
        )
    raw = body.get("eventFilters")
    if not isinstance(raw, list) or not raw or not all(isinstance(f, str) for f in raw):
        raise _bad_filters("Event filters are not specified")
    try:
        return tuple(
            parse_filter(
                f, account_id=account_id, owner_id=owner_id, extensions=extensions
            )
            for f in raw
        )
    except ValueError as exc:
        raise _bad_filters(f"Invalid event filter: {exc}") from None


def new_subscription(
    filters: tuple[AnyFilter, ...], *, owner_id: str, now: datetime
) -> Subscription:
    """A fresh subscription with a UUID id, like the platform's."""
    return Subscription(str(uuid.uuid4()), owner_id, filters, now)


def _bad_filters(message: str) -> ApiError:
    return api_error(400, "SUB-508", message, parameterName="eventFilters")
