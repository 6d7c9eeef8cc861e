"""RingCentral's wire format -> typed, immutable events (docs/ringcentral.md
5-7).

Parse at the edge: `parse_frame` (one WebSocket message), `parse_session_event`
(a telephony/sessions envelope from a frame, a capture or a webhook) and
`parse_call_session` (a `GET /telephony/sessions/{id}` body) raise
`MalformedFrame` on bad input; nothing downstream touches raw dicts, except
the opaque bodies of other notifications and of REST-over-WebSocket replies.

Tolerant where RingCentral varies: unknown fields ignored, optional ones
absent, numeric ids made strings, `VoiceMail` read as `Voicemail`, the `s-...`
peer id accepted under `peerId.sessionId`. Strict where the live model
depends on a field (`ESSENTIAL_EVENT`, `ESSENTIAL_PARTY`): `uuid`,
`telephonySessionId`, `sequence` (an int), `parties` (a list), an event time,
party `id` and `status.code`. Any other field that fails validation is
dropped (its default stands in) and the event parsed again, with a WARNING
naming the field's location, never its value (`_repaired`): a malformed
caller id must not hide the call. A party whose essential field is bad is
left out of a telephony event (the others are kept; none left: the event is
malformed), while a REST session body with such a party is malformed whole
(its party list replaces the call's). The types are frozen slotted
dataclasses filled by pydantic-core: about 11 us per notification frame.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any, Literal, TypeVar, dataclass_transform

from pydantic import (
    AfterValidator,
    AliasChoices,
    AliasPath,
    BeforeValidator,
    ConfigDict,
    Field,
    Strict,
    StringConstraints,
    TypeAdapter,
    ValidationError,
)
from pydantic.alias_generators import to_camel

from telephony.ringcentral.exceptions import MalformedFrame

logger = logging.getLogger("telephony.ringcentral.events")

# `status.code` values of a party, in the docs' spelling
# (docs/ringcentral.md 6.5 and 9).
STATUS_CODES: tuple[str, ...] = (
    *("Setup", "Proceeding", "Answered", "Hold", "Parked", "Voicemail"),
    *("VoiceMailScreening", "FaxReceive", "Disconnected", "Gone", "Tds"),
)
FINAL_STATUS_CODES: frozenset[str] = frozenset({"Disconnected", "Gone"})
# Disconnected with these reasons means the call moved to another device or
# app of the same user, not that the party left (cc-js #16, call-js).
NON_FINAL_DISCONNECT_REASONS: frozenset[str] = frozenset({"Pickup", "CallSwitch"})

# Codes compared case-insensitively (docs/ringcentral.md 9: the spec says
# VoiceMail, real events say Voicemail; the docs table says VMScreening).
# Unknown codes pass as sent.
_CANONICAL_CODES = {code.lower(): code for code in STATUS_CODES}
_CANONICAL_CODES["vmscreening"] = "VoiceMailScreening"


def _canonical_code(code: str) -> str:
    return _CANONICAL_CODES.get(code.lower(), code)


def _utc(value: datetime) -> datetime:
    # RingCentral always means UTC; a naive time is taken as UTC, not local.
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def _peer_ids(value: Any) -> Any:
    # A cc-js bridge mock puts the s-... id under `sessionId` and omits
    # `telephonySessionId`; a digits-only `sessionId` is the legacy id.
    if isinstance(value, dict) and value.get("telephonySessionId") is None:
        legacy = value.get("sessionId")
        if isinstance(legacy, str) and not legacy.isdigit():
            return {**value, "telephonySessionId": legacy}
    return value


_CONFIG = ConfigDict(
    alias_generator=to_camel,
    coerce_numbers_to_str=True,  # extension ids are ints in other resources
    extra="ignore",
)
Code = Annotated[str, AfterValidator(_canonical_code)]
UtcDatetime = Annotated[datetime, AfterValidator(_utc)]
StrictInt = Annotated[int, Strict()]
# A session's or a party's id: the model's key and a segment of Call Control
# URLs, so never empty (an empty one would be a live call nobody can act on).
Id = Annotated[str, StringConstraints(min_length=1)]
_T = TypeVar("_T")


def _alias(*choices: str | tuple[str, ...]) -> Any:
    """Where a field is read from: a key, or a path like ("park", "id")."""
    paths = [AliasPath(*c) if isinstance(c, tuple) else c for c in choices]
    return Field(validation_alias=paths[0] if len(paths) == 1 else AliasChoices(*paths))


def _body(*path: str) -> Any:
    return _alias(("body", *path))


# REST bodies before 1.0.42 only had the deprecated `owner` object; events
# carry `queueCall`, REST parties `attributes.queueCall`.
_EXTENSION_ID = _alias("extensionId", ("owner", "extensionId"))
_QUEUE_CALL = _alias("queueCall", ("attributes", "queueCall"))
# `eventTime` is the state-change time; the send time is a last resort.
_EVENT_TIME = _alias(("body", "eventTime"), "timestamp")


@dataclass_transform(
    frozen_default=True, kw_only_default=True, field_specifiers=(Field,)
)
def _model(cls: type[_T]) -> type[_T]:
    """Declare a frozen, slotted, keyword-only dataclass pydantic can fill."""
    cls.__pydantic_config__ = _CONFIG  # type: ignore[attr-defined]
    return dataclass(frozen=True, slots=True, kw_only=True)(cls)


@_model
class Wsc:
    """WebSocket session context: keep the latest token to recover
    (docs/ringcentral.md 5.9)."""

    token: str
    sequence: StrictInt


@_model
class Endpoint:
    """One end of a party's leg (`from` / `to`)."""

    phone_number: str | None = None
    name: str | None = None
    extension_id: str | None = None
    device_id: str | None = None


@_model
class Peer:
    """The linked party in another session (status `Gone`)."""

    telephony_session_id: str | None = None
    party_id: str | None = None


@_model
class PartyStatus:
    """A party's `status`; `finished` says whether the party left the call."""

    code: Code
    reason: str | None = None
    description: str | None = None
    peer: Annotated[Peer | None, BeforeValidator(_peer_ids), _alias("peerId")] = None
    parked_data: Annotated[str | None, _alias("parkData")] = None

    @property
    def finished(self) -> bool:
        """True for Gone, and for Disconnected unless the call only moved."""
        if self.code == "Disconnected":
            return self.reason not in NON_FINAL_DISCONNECT_REASONS
        return self.code == "Gone"


@_model
class Recording:
    """A recording of the party; `active` is false while paused."""

    id: str
    active: bool = False


@_model
class UiCallInfoRecord:
    """One line of what the RingCentral app displays (queue calls)."""

    type: str | None = None
    value: str | None = None


@_model
class UiCallInfo:
    """`uiCallInfo`: the primary and additional display lines."""

    primary: UiCallInfoRecord | None = None
    additional: UiCallInfoRecord | None = None


@_model
class PartyEvent:
    """One party as events (docs/ringcentral.md 6.4) and REST `CallParty`
    (7.1) describe it."""

    id: Id
    status: PartyStatus
    account_id: str | None = None
    extension_id: Annotated[str | None, _EXTENSION_ID] = None
    direction: Literal["Inbound", "Outbound"] | None = None
    from_: Annotated[Endpoint, _alias("from")] = Endpoint()
    to: Endpoint = Endpoint()
    park_id: Annotated[str | None, _alias(("park", "id"))] = None
    missed_call: bool = False
    stand_alone: bool = False
    muted: bool = False
    recordings: tuple[Recording, ...] = ()
    queue_call: Annotated[bool, _QUEUE_CALL] = False
    conference_role: str | None = None
    ui_call_info: UiCallInfo | None = None


@_model
class SessionEvent:
    """A telephony/sessions notification: normally one changed party
    (docs/ringcentral.md 6.3)."""

    uuid: str
    sequence: Annotated[StrictInt, _body("sequence")]
    telephony_session_id: Annotated[Id, _body("telephonySessionId")]
    event_time: Annotated[UtcDatetime, _EVENT_TIME]
    parties: Annotated[tuple[PartyEvent, ...], _body("parties")]
    session_id: Annotated[str | None, _body("sessionId")] = None
    server_id: Annotated[str | None, _body("serverId")] = None
    origin: Annotated[str | None, _body("origin", "type")] = None


@_model
class CallSessionSnapshot:
    """RingCentral's current view of one session (`CallSessionObject`)."""

    id: Id
    origin: Annotated[str | None, _alias(("origin", "type"))] = None
    creation_time: UtcDatetime | None = None
    parties: tuple[PartyEvent, ...] = ()


@_model
class ConnectionDetails:
    """First frame of every connection; recovery fields only after `&wsc=`."""

    message_id: str | None = None
    wsc: Wsc | None = None
    recovery_state: str | None = None
    recovery_error_code: str | None = None
    idle_timeout: int | None = None
    absolute_timeout: int | None = None
    recovery_timeout: int | None = None
    recovery_buffer_size: int | None = None


@_model
class ClientResponse:
    """RingCentral's answer to one of our `ClientRequest` frames
    (docs/ringcentral.md 5.5)."""

    message_id: str
    status: int
    body: dict[str, Any] | None = None
    wsc: Wsc | None = None


@_model
class PresenceEvent:
    """An extension's presence changed (docs/ringcentral.md 8.5): the body of
    an account or extension presence notification. `telephony_status` is
    only sent when it changed; `sequence` orders one extension's events."""

    extension_id: Annotated[str, _body("extensionId")]
    sequence: Annotated[int | None, _body("sequence")] = None
    telephony_status: Annotated[str | None, _body("telephonyStatus")] = None
    presence_status: Annotated[str | None, _body("presenceStatus")] = None
    user_status: Annotated[str | None, _body("userStatus")] = None
    dnd_status: Annotated[str | None, _body("dndStatus")] = None
    event_time: Annotated[UtcDatetime | None, _alias("timestamp")] = None


@_model
class Notification:
    """A `ServerNotification`; `session` is set for telephony/sessions events,
    `presence` for presence events, `body` (the raw envelope body) for every
    other kind of event."""

    uuid: str
    event: str
    subscription_id: str | None = None
    timestamp: str | None = None
    wsc: Wsc | None = None
    session: SessionEvent | None = None
    presence: PresenceEvent | None = None
    body: dict[str, Any] | None = None


@_model
class Heartbeat:
    """Echo of our application-level heartbeat (docs/ringcentral.md 5.8)."""

    message_id: str | None = None


@_model
class ErrorFrame:
    """An `Error` frame, e.g. WSG-902 idle timeout; the socket closes next."""

    message_id: str | None = None
    status: int | None = None
    error_code: str | None = None
    message: str = ""


Frame = ConnectionDetails | ClientResponse | Notification | Heartbeat | ErrorFrame

_SESSION_EVENT = TypeAdapter(SessionEvent)
_CALL_SESSION = TypeAdapter(CallSessionSnapshot)
_NOTIFICATION = TypeAdapter(Notification)
_CLIENT_RESPONSE = TypeAdapter(ClientResponse)
_PRESENCE_EVENT = TypeAdapter(PresenceEvent)
# Frames whose body fields sit beside the header's messageId/status/wsc.
_FLAT_FRAMES: dict[str, TypeAdapter[Any]] = {
    "ConnectionDetails": TypeAdapter(ConnectionDetails),
    "Heartbeat": TypeAdapter(Heartbeat),
    # A third-party client expects this name; no RingCentral source shows it.
    "HeartbeatResponse": TypeAdapter(Heartbeat),
    "Error": TypeAdapter(ErrorFrame),
}
# Where validation may not drop a field: locations in RingCentral's
# spelling. A field inside or around one of these is essential too.
Location = tuple[str | int, ...]
ESSENTIAL_EVENT: tuple[Location, ...] = (
    ("uuid",),
    ("timestamp",),  # the event time when `body.eventTime` is absent
    ("body", "sequence"),  # gap detection and ordering
    ("body", "telephonySessionId"),
    ("body", "eventTime"),
    ("body", "parties"),
)
ESSENTIAL_PARTY: tuple[Location, ...] = (("id",), ("status", "code"))
ESSENTIAL_SESSION: tuple[Location, ...] = (("id",), ("parties",))
# A notification's own fields around its parsed session or presence.
ESSENTIAL_NOTIFICATION: tuple[Location, ...] = (
    ("uuid",),
    ("event",),
    ("session",),
    ("presence",),
    ("body",),
)
# Rounds of drop-and-parse-again before giving up on a message.
MAX_REPAIRS = 8
_TELEPHONY_PATH = "/telephony/sessions"
_PRESENCE_PATH = "/presence"


# A JSON escape of a UTF-16 surrogate (half of an emoji's pair, or alone);
# a lone surrogate itself, once decoded.
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")
_SURROGATE_ESCAPE_BYTES = re.compile(rb"\\u[dD][89a-fA-F]")
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def _mend(text: str) -> str:
    return _LONE_SURROGATE.sub("\ufffd", text)


def _mend_surrogates(data: Any) -> Any:
    """`data` with every lone surrogate in its strings (a pair cut in half,
    as by a name truncated upstream) replaced by U+FFFD. Such text has no
    UTF-8 form: neither msgpack (the Redis layer) nor a browser frame could
    carry the call, nor any snapshot holding it. Walks without recursion."""
    if isinstance(data, str):
        return _mend(data)
    stack = [data]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            for key, value in list(node.items()):
                if isinstance(value, str):
                    value = _mend(value)
                elif isinstance(value, dict | list):
                    stack.append(value)
                if _LONE_SURROGATE.search(key):
                    del node[key]
                    key = _mend(key)
                node[key] = value
        elif isinstance(node, list):
            for i, value in enumerate(node):
                if isinstance(value, str):
                    node[i] = _mend(value)
                elif isinstance(value, dict | list):
                    stack.append(value)
    return data


def parse_frame(raw: str | bytes) -> Frame:
    """Parse one WebSocket message: `[header]` or `[header, body]`
    (docs/ringcentral.md 5.3).

    Raises MalformedFrame: not JSON, not such an array, an unknown `type`, or
    a body that does not match its type (including a bad telephony event).
    """
    try:
        data = json.loads(raw)
    except ValueError as exc:  # JSONDecodeError and UnicodeDecodeError
        raise MalformedFrame(f"frame is not JSON: {exc}") from exc
    except RecursionError as exc:  # nested deeper than the decoder's stack
        raise MalformedFrame("frame is nested too deeply") from exc
    if (
        _SURROGATE_ESCAPE_BYTES.search(raw)
        if isinstance(raw, bytes)
        else _SURROGATE_ESCAPE.search(raw)
    ):
        data = _mend_surrogates(data)
    if not isinstance(data, list) or len(data) not in (1, 2):
        raise MalformedFrame("frame is not a [header] or [header, body] array")
    header, body = data[0], (data[1] if len(data) == 2 else None)
    if not isinstance(header, dict) or not isinstance(body, dict | None):
        raise MalformedFrame("frame header or body is not an object")
    kind = header.get("type")
    if kind == "ServerNotification":
        return _notification(header, body)
    head = {key: header.get(key) for key in ("messageId", "status", "wsc")}
    if kind == "ClientRequest":
        return _validate(_CLIENT_RESPONSE, {**head, "body": body})
    if isinstance(kind, str) and kind in _FLAT_FRAMES:
        frame: Frame = _validate(_FLAT_FRAMES[kind], {**(body or {}), **head})
        return frame
    raise MalformedFrame(f"unknown frame type {kind!r}")


def parse_session_event(data: dict[str, Any] | bytes | str) -> SessionEvent:
    """Parse a telephony/sessions envelope (`uuid`, `event`, ..., `body`).

    Raises MalformedFrame when a field the live model needs is missing or
    bad; other bad fields are dropped and logged, and so are parties whose
    own essential fields are bad while other parties remain.
    """
    return _repaired(
        _SESSION_EVENT,
        data,
        essential=ESSENTIAL_EVENT,
        parties_at=("body", "parties"),
        skip_bad_parties=True,
    )


def parse_call_session(data: dict[str, Any] | bytes | str) -> CallSessionSnapshot:
    """Parse the body of `GET /restapi/v1.0/account/~/telephony/sessions/{id}`.

    Raises MalformedFrame when the body has no session `id` or a party
    without a valid `id` and `status.code` (the body lists every party: one
    left out would leave the call); other bad fields are dropped and logged.
    """
    return _repaired(
        _CALL_SESSION,
        data,
        essential=ESSENTIAL_SESSION,
        parties_at=("parties",),
        skip_bad_parties=False,
    )


def _validate(adapter: TypeAdapter[_T], data: Any) -> _T:
    """Validate parsed JSON, or JSON text or bytes, into `adapter`'s type."""
    try:
        if isinstance(data, str | bytes):
            return adapter.validate_json(data)
        return adapter.validate_python(data)
    except ValidationError as exc:
        raise MalformedFrame(_problems(exc)) from exc


def _problems(exc: ValidationError) -> str:
    # Only locations and messages: inputs may hold phone numbers.
    return "; ".join(
        f"{_where(err['loc'])}: {err['msg']}"
        for err in exc.errors(include_url=False, include_input=False)[:3]
    )


def _where(loc: Sequence[str | int]) -> str:
    return ".".join(map(str, loc)) or "<root>"


def _repaired(
    adapter: TypeAdapter[_T],
    data: Any,
    *,
    essential: tuple[Location, ...],
    parties_at: Location | None = None,
    skip_bad_parties: bool = False,
) -> _T:
    """Validate like `_validate`; on failure drop each bad field that is not
    essential (or the party holding a bad essential one, with
    `skip_bad_parties`), log what was dropped where, and validate again.

    A bad field inside a list entry (a recording) drops the entry. Raises
    MalformedFrame when an essential field is bad, or when no party is left.
    """
    try:
        return _validate(adapter, data)  # the normal case: no copy
    except MalformedFrame as exc:
        failure = exc
    if isinstance(data, str | bytes):
        try:
            data = json.loads(data)
        except (ValueError, RecursionError):
            raise failure from failure.__cause__
    data = _copy(data)  # never edit the caller's dict
    dropped: list[str] = []
    for _ in range(MAX_REPAIRS):
        try:
            result = adapter.validate_python(data)
        except ValidationError as exc:
            ordered = sorted(
                _cuts(data, exc, essential, parties_at, skip_bad_parties).items(),
                key=_document_order,
            )
            dropped += [what for _, what in ordered]
            for cut, _ in reversed(ordered):  # from the last: indexes hold
                _cut(data, cut)
            if parties_at is not None and _at(data, parties_at) == []:
                raise MalformedFrame(f"no valid party: {'; '.join(dropped)}") from exc
            continue
        if dropped:
            logger.warning("%s: dropped %s", _label(data), "; ".join(dropped))
        return result
    raise failure


def _cuts(
    data: Any,
    exc: ValidationError,
    essential: tuple[Location, ...],
    parties_at: Location | None,
    skip_bad_parties: bool,
) -> dict[Location, str]:
    """What to drop for each error of one validation, and what the log
    says of it: locations and pydantic's messages, never the input.

    Raises MalformedFrame when an error is in an essential field."""
    cuts: dict[Location, str] = {}
    for err in exc.errors(include_url=False, include_input=False):
        msg = err["msg"]
        where = _present(data, tuple(err["loc"]))  # missing: its holder
        depth = len(parties_at) if parties_at is not None else -1
        if where[:depth] == parties_at and len(where) > depth:
            party, inside = where[: depth + 1], where[depth + 1 :]
            # A bad list entry inside the party (a recording) goes whole.
            for i, key in enumerate(inside):
                if isinstance(key, int):
                    inside = inside[: i + 1]
                    break
            if not _essential(inside, ESSENTIAL_PARTY):
                cuts[party + inside] = f"malformed {_where(party + inside)} ({msg})"
                continue
            if skip_bad_parties:
                cuts[party] = f"party {_where(party)} ({_where(err['loc'])}: {msg})"
                continue
        elif not _essential(where, essential):
            cuts[where] = f"malformed {_where(where)} ({msg})"
            continue
        raise MalformedFrame(_problems(exc)) from exc
    # Nothing inside a dropped party or field is dropped on its own.
    return {
        cut: what
        for cut, what in cuts.items()
        if not any(cut[: len(o)] == o and cut != o for o in cuts)
    }


def _essential(where: Location, essential: tuple[Location, ...]) -> bool:
    """`where` is, holds or lies inside an essential field."""
    return any(where[: len(e)] == e or e[: len(where)] == where for e in essential)


def _present(data: Any, loc: Location) -> Location:
    """The longest start of `loc` that exists in `data`: a missing field's
    holder (pydantic reports a missing `id` at `...recordings.1.id`)."""
    node = data
    for depth, key in enumerate(loc):
        in_dict = isinstance(node, dict) and isinstance(key, str) and key in node
        in_list = isinstance(node, list) and isinstance(key, int) and key < len(node)
        if not (in_dict or in_list):
            return loc[:depth]
        node = node[key]
    return loc


def _at(data: Any, where: Location) -> Any:
    for key in where:
        data = data[key]
    return data


def _cut(data: Any, where: Location) -> None:
    del _at(data, where[:-1])[where[-1]]


def _document_order(item: tuple[Location, str]) -> tuple[tuple[int, int | str], ...]:
    return tuple((0, k) if isinstance(k, int) else (1, k) for k in item[0])


def _copy(value: Any) -> Any:
    """A copy of parsed JSON's dicts and lists; anything else is shared."""
    if isinstance(value, dict):
        return {key: _copy(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_copy(item) for item in value]
    return value


def _label(data: Any) -> str:
    """Which message, for the log: its ids (never a number's value)."""
    body = data.get("body") if isinstance(data, dict) else None
    if isinstance(body, dict) and "telephonySessionId" in body:
        uuid, session = _cut_short(data.get("uuid")), body["telephonySessionId"]
        return f"telephony event {uuid} of {_cut_short(session)}"
    if isinstance(data, dict) and "event" in data:
        event = _cut_short(data.get("event"))
        return f"notification {_cut_short(data.get('uuid'))} ({event})"
    session_id = data.get("id") if isinstance(data, dict) else None
    return f"telephony session {_cut_short(session_id)}"


def _cut_short(value: Any) -> str:
    """An id for the log: as sent, unless absurdly long (a spoiled frame)."""
    text = str(value)
    return text if len(text) <= 120 else f"{text[:119]}\N{HORIZONTAL ELLIPSIS}"


def _notification(
    header: dict[str, Any], envelope: dict[str, Any] | None
) -> Notification:
    if envelope is None:
        raise MalformedFrame("ServerNotification without a body")
    fields = {**envelope, "wsc": header.get("wsc")}
    event = envelope.get("event")
    # Filters with query parameters show up in the event path too.
    path = event.partition("?")[0] if isinstance(event, str) else ""
    if path.endswith(_TELEPHONY_PATH):
        fields["session"] = parse_session_event(envelope)
        fields["body"] = None  # parsed: do not keep the raw copy alive
    elif path.endswith(_PRESENCE_PATH):
        fields["presence"] = _validate(_PRESENCE_EVENT, envelope)
        fields["body"] = None
    return _repaired(_NOTIFICATION, fields, essential=ESSENTIAL_NOTIFICATION)
