"""RingCentral's WebSocket notification stream, as an async iterator.

`iter_stream` yields `Connected` after every (re)connection and subscription,
then each telephony `Notification`. It reconnects by itself with backoff and
jitter, and raises only for fatal errors (rejected credentials, a rejected
subscription), so a bad configuration fails loudly instead of spinning.

Why not websockets' reconnecting `connect()` iterator: it reuses one URI,
and RingCentral's WebSocket token in that URI is single-use, so every
attempt must first fetch a new one (`open_url`). The policy pieces the
iterator would provide are here explicitly: exponential backoff with full
jitter, reset after a connection that lived long enough, a minimum delay
after a short-lived one (an accept-then-close server would otherwise make the
loop spin), and retryable vs fatal errors.
Reference: PROTOCOL.md section 5; https://developers.ringcentral.com/guide/notifications/websockets
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus

from telephony.events import (
    ClientResponse,
    ConnectionDetails,
    ErrorFrame,
    Notification,
    parse_frame,
)
from telephony.exceptions import (
    AuthenticationFailed,
    MalformedFrame,
    TelephonyRejected,
    TelephonyUnavailable,
)

logger = logging.getLogger("telephony.stream")

ACCOUNT_SESSIONS_FILTER = "/restapi/v1.0/account/~/telephony/sessions"
# RingCentral ends an idle socket after idleTimeout (1800 s) and WebSocket
# pings do not count as activity (ringcentral-python#68); an application
# Heartbeat does. Send one after this long without sending anything.
HEARTBEAT_INTERVAL = 300.0
# A connection that lived less than this did not really work: keep backing
# off instead of resetting the delay.
MIN_HEALTHY_LIFETIME = 5.0
# How long to wait for ConnectionDetails and for the subscription reply.
HANDSHAKE_TIMEOUT = 15.0


@dataclass(frozen=True, slots=True)
class Connected:
    """Yielded after each successful connection + subscription."""

    details: ConnectionDetails
    subscription: dict[str, object]


StreamItem = Connected | Notification


def backoff(
    initial: float = 1.0, factor: float = 2.0, maximum: float = 60.0
) -> Iterator[float]:
    """Exponential delays with full jitter (AWS architecture blog)."""
    delay = initial
    while True:
        yield random.uniform(delay / 2, delay)
        delay = min(delay * factor, maximum)


def subscription_request(event_filters: list[str]) -> tuple[str, str]:
    """Return (messageId, frame) creating our one subscription."""
    message_id = str(uuid.uuid4())
    header = {
        "type": "ClientRequest",
        "messageId": message_id,
        "method": "POST",
        "path": "/restapi/v1.0/subscription",
    }
    body = {
        "eventFilters": event_filters,
        "deliveryMode": {"transportType": "WebSocket"},
    }
    return message_id, json.dumps([header, body])


def heartbeat_frame() -> str:
    return json.dumps([{"type": "Heartbeat", "messageId": str(uuid.uuid4())}])


async def iter_stream(
    *,
    open_url: Callable[[], Awaitable[str]],
    event_filters: list[str] | None = None,
    reconnect_delays: Callable[[], Iterator[float]] = backoff,
    heartbeat_interval: float = HEARTBEAT_INTERVAL,
    min_delay: float = 1.0,
) -> AsyncIterator[StreamItem]:
    """Yield `Connected` and `Notification`s forever; see the module docstring.

    Raises:
        AuthenticationFailed: the credentials were rejected.
        TelephonyRejected: the subscription was refused (permanent).
    """
    filters = event_filters or [ACCOUNT_SESSIONS_FILTER]
    delays = reconnect_delays()
    while True:
        started = time.monotonic()
        try:
            async with await _open(open_url) as ws:
                details, subscription = await _subscribe(ws, filters)
                logger.info("stream connected; subscription %s", subscription.get("id"))
                yield Connected(details=details, subscription=subscription)
                async for item in _notifications(ws, heartbeat_interval):
                    yield item
        except (AuthenticationFailed, _FatalStream):
            raise
        except TelephonyRejected as exc:
            if exc.permanent:
                raise
            logger.warning("stream: %s; reconnecting", exc)
        except (ConnectionClosed, TelephonyUnavailable, OSError, TimeoutError) as exc:
            logger.warning("stream lost: %r; reconnecting", exc)
        except InvalidHandshake as exc:
            logger.warning("stream handshake failed: %r; reconnecting", exc)
        if time.monotonic() - started > MIN_HEALTHY_LIFETIME * 12:
            delays = reconnect_delays()  # it worked for a while: start over
        await asyncio.sleep(max(next(delays), min_delay))


class _FatalStream(TelephonyRejected):
    """The gateway refused our subscription: retrying cannot help."""


async def _open(open_url: Callable[[], Awaitable[str]]) -> ClientConnection:
    url = await open_url()
    try:
        return await connect(
            url, open_timeout=HANDSHAKE_TIMEOUT, max_size=2**22, compression=None
        )
    except InvalidStatus as exc:
        status = exc.response.status_code
        if status in (401, 403):
            # The token we just fetched was refused: treat as transient (it
            # may have expired in flight); a bad login fails in open_url.
            raise TelephonyUnavailable(f"gateway refused the token ({status})") from exc
        raise


async def _subscribe(
    ws: ClientConnection, filters: list[str]
) -> tuple[ConnectionDetails, dict[str, object]]:
    async with asyncio.timeout(HANDSHAKE_TIMEOUT):
        first = parse_frame(await ws.recv())
        if isinstance(first, ErrorFrame):
            raise TelephonyUnavailable(
                f"gateway error {first.error_code}: {first.message}"
            )
        if not isinstance(first, ConnectionDetails):
            raise TelephonyUnavailable(f"expected ConnectionDetails, got {first!r}")
        message_id, frame = subscription_request(filters)
        await ws.send(frame)
        while True:
            reply = parse_frame(await ws.recv())
            if isinstance(reply, ClientResponse) and reply.message_id == message_id:
                break
    if reply.status != 200:
        body = reply.body or {}
        raise _FatalStream(
            status=reply.status,
            error_code=str(body.get("errorCode")) if body.get("errorCode") else None,
            message=str(body.get("message", "subscription refused")),
        )
    return first, dict(reply.body or {})


async def _notifications(
    ws: ClientConnection, heartbeat_interval: float
) -> AsyncIterator[Notification]:
    last_sent = time.monotonic()
    while True:
        wait = max(0.0, last_sent + heartbeat_interval - time.monotonic())
        try:
            async with asyncio.timeout(wait):
                raw = await ws.recv()
        except TimeoutError:
            await ws.send(heartbeat_frame())
            last_sent = time.monotonic()
            continue
        try:
            frame = parse_frame(raw)
        except MalformedFrame as exc:
            logger.warning("skipping malformed frame: %s: %.200r", exc, raw)
            continue
        if isinstance(frame, Notification):
            yield frame
        elif isinstance(frame, ErrorFrame):
            # e.g. WSG-902 idle timeout: the server closes next; log why.
            logger.warning("gateway error %s: %s", frame.error_code, frame.message)
