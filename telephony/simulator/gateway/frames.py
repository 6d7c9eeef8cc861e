"""WebSocket gateway frames (docs/ringcentral.md 5.3 to 5.10), built and parsed purely.

Every message is a JSON array `[header]` or `[header, body]`.
"""

from __future__ import annotations

import json
import math
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

JsonDict = dict[str, Any]

# Documented ConnectionDetails values (docs/ringcentral.md 5.4); the gateway
# enforces the timeouts and the buffer size it reports.
CONNECTION_LIMITS: JsonDict = {
    "maxConnectionsPerSession": 50,
    "recoveryBufferSize": 100,
    "recoveryTimeout": 180,
    "idleTimeout": 1800,
    "absoluteTimeout": 86400,
    "maxActiveRequests": 10,
}


class FrameError(Exception):
    """A client frame the gateway cannot use; answered with an Error frame."""

    def __init__(self, code: str, message: str, message_id: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.message_id = message_id


@dataclass(frozen=True)
class ClientFrame:
    """A parsed client frame."""

    type: str
    message_id: str | None
    header: JsonDict
    body: Any = None


def dumps(frame: list[Any]) -> str:
    """Compact JSON text of a frame."""
    return json.dumps(frame, separators=(",", ":"))


def parse(message: str | bytes) -> ClientFrame:
    """Parse a client message; FrameError if it is not a usable frame."""
    try:
        frame = json.loads(message)
    except (ValueError, UnicodeDecodeError):
        raise FrameError("CMN-103", "Message is not a valid JSON") from None
    if not isinstance(frame, list) or not 1 <= len(frame) <= 2:
        raise FrameError(
            "CMN-104", "Message must be a JSON array [header] or [header, body]"
        )
    header = frame[0]
    if not isinstance(header, dict):
        raise FrameError("CMN-104", "Message header must be a JSON object")
    message_id = header.get("messageId")
    message_id = message_id if isinstance(message_id, str) else None
    kind = header.get("type")
    if not isinstance(kind, str):
        raise FrameError("CMN-104", "Message header has no [type]", message_id)
    body = frame[1] if len(frame) == 2 else None
    return ClientFrame(kind, message_id, header, body)


def offset_time(moment: datetime) -> str:
    """`2026-01-15T10:00:00.123+0000`, the form the docs sample uses."""
    return (
        moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}+0000"
    )


def connection_limits(
    *, idle: float, absolute: float, recovery: float, buffer_size: int
) -> JsonDict:
    """ConnectionDetails limits for configured (possibly tiny) durations."""
    return {
        **CONNECTION_LIMITS,
        "recoveryBufferSize": buffer_size,
        # Whole seconds on the wire, rounded up so a client never plans
        # with less time than it has.
        "recoveryTimeout": math.ceil(recovery),
        "idleTimeout": math.ceil(idle),
        "absoluteTimeout": math.ceil(absolute),
    }


def connection_details(
    wsc: JsonDict,
    now: datetime,
    limits: JsonDict | None = None,
    recovery: tuple[str, str | None] | None = None,
) -> list[Any]:
    """First frame on every connection.

    `recovery` is (recoveryState, recoveryErrorCode) for a connect with
    `wsc`; both fields are absent on a plain connect (docs/ringcentral.md 5.4).
    """
    message_id = str(uuid.uuid4())
    header = {
        "type": "ConnectionDetails",
        "messageId": message_id,
        "status": 200,
        "wsc": wsc,
        "headers": {"RCRequestId": message_id},
    }
    body = {"creationTime": offset_time(now), **(limits or CONNECTION_LIMITS)}
    if recovery is not None:
        body["recoveryState"] = recovery[0]
        if recovery[1] is not None:
            body["recoveryErrorCode"] = recovery[1]
    return [header, body]


def response(
    message_id: str,
    status: int,
    body: Any,
    wsc: JsonDict,
    headers: dict[str, str] | None = None,
) -> list[Any]:
    """`ClientRequest` response frame; no body element for 204."""
    header = {
        "type": "ClientRequest",
        "messageId": message_id,
        "status": status,
        "headers": {
            "Content-Type": "application/json",
            "RCRequestId": str(uuid.uuid4()),
            **(headers or {}),
        },
        "wsc": wsc,
    }
    return [header] if body is None else [header, body]


def notification(message_id: str, envelope: JsonDict, wsc: JsonDict) -> list[Any]:
    """`ServerNotification` frame; messageId equals the event uuid."""
    header = {
        "type": "ServerNotification",
        "messageId": message_id,
        "status": 200,
        "headers": {"RCRequestId": str(uuid.uuid4())},
        "wsc": wsc,
    }
    return [header, envelope]


def heartbeat(message_id: str | None) -> list[Any]:
    """Heartbeat echo with the client's messageId."""
    return [{"type": "Heartbeat", "messageId": message_id or str(uuid.uuid4())}]


def error(
    code: str, message: str, status: int = 400, message_id: str | None = None
) -> list[Any]:
    """`Error` frame (docs/ringcentral.md 5.10)."""
    header = {
        "type": "Error",
        "messageId": message_id or str(uuid.uuid4()),
        "status": status,
    }
    return [header, {"errorCode": code, "message": message}]
