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
Reference: docs/ringcentral.md 5; https://developers.ringcentral.com/guide/notifications/websockets
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
from urllib.parse import quote

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus

from telephony.ringcentral.events import (
    ClientResponse,
    ConnectionDetails,
    ErrorFrame,
    Notification,
    Wsc,
    parse_frame,
)
from telephony.ringcentral.exceptions import (
    AuthenticationFailed,
    MalformedFrame,
    TelephonyRejected,
    TelephonyUnavailable,
)

logger = logging.getLogger("telephony.ringcentral.stream")

ACCOUNT_SESSIONS_FILTER = "/restapi/v1.0/account/~/telephony/sessions"
# Every extension's presence (who is available, away, on DND), on the same
# subscription (docs/ringcentral.md 8.5).
ACCOUNT_PRESENCE_FILTER = "/restapi/v1.0/account/~/presence"
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
    """Yielded after each successful connection + subscription.

    `recovered` is True when RingCentral restored the previous WebSocket
    session (same subscription, missed notifications replayed next): no
    resync is needed. Otherwise events may have been lost meanwhile.
    """

    details: ConnectionDetails
    subscription: dict[str, object]
    recovered: bool = False


@dataclass(frozen=True, slots=True)
class Disconnected:
    """Yielded when the connection is lost; a reconnect attempt follows."""

    reason: str


StreamItem = Connected | Disconnected | Notification


class _Session:
    """What survives a dropped connection: the WebSocket session context.

    RingCentral restores a session (subscription and up to
    recoveryBufferSize missed notifications) when the next connection
    presents the latest `wsc` token within recoveryTimeout seconds, under
    the same OAuth session (docs/ringcentral.md 5.9).
    """

    def __init__(self) -> None:
        self.wsc_token: str | None = None
        self.wsc_sequence = -1
        self.recovery_timeout = 0.0
        self.subscription: dict[str, object] | None = None
        self.lost_at: float | None = None

    def seen(self, wsc: Wsc | None) -> None:
        if wsc is not None and wsc.sequence > self.wsc_sequence:
            self.wsc_token, self.wsc_sequence = wsc.token, wsc.sequence

    def recoverable(self) -> bool:
        return (
            self.wsc_token is not None
            and self.subscription is not None
            and self.lost_at is not None
            and time.monotonic() - self.lost_at < self.recovery_timeout
        )

    def forget(self) -> None:
        self.wsc_token, self.wsc_sequence, self.subscription = None, -1, None


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
    session = _Session()
    while True:
        started = time.monotonic()
        reason = "closed"
        try:
            async with await _open(open_url, session) as ws:
                connected = await _establish(ws, filters, session)
                logger.info(
                    "stream connected (%s); subscription %s",
                    "session recovered" if connected.recovered else "new session",
                    connected.subscription.get("id"),
                )
                yield connected
                async for item in _notifications(ws, heartbeat_interval, session):
                    yield item
        except (AuthenticationFailed, _FatalStream):
            raise
        except TelephonyRejected as exc:
            if exc.permanent:
                raise
            reason = str(exc)
        except (ConnectionClosed, TelephonyUnavailable, OSError, TimeoutError) as exc:
            reason = repr(exc)
        except InvalidHandshake as exc:
            reason = f"handshake failed: {exc!r}"
        except MalformedFrame as exc:
            reason = f"malformed handshake frame: {exc}"
        session.lost_at = time.monotonic()
        logger.warning("stream lost: %s; reconnecting", reason)
        yield Disconnected(reason=reason)
        if time.monotonic() - started > MIN_HEALTHY_LIFETIME * 12:
            delays = reconnect_delays()  # it worked for a while: start over
        await asyncio.sleep(max(next(delays), min_delay))


class _FatalStream(TelephonyRejected):
    """The gateway refused our subscription: retrying cannot help."""


async def _open(
    open_url: Callable[[], Awaitable[str]], session: _Session
) -> ClientConnection:
    url = await open_url()
    if session.recoverable():
        url += f"&wsc={quote(str(session.wsc_token), safe='')}"
    else:
        session.forget()
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


async def _establish(
    ws: ClientConnection, filters: list[str], session: _Session
) -> Connected:
    """Read ConnectionDetails; recover the session or subscribe anew."""
    async with asyncio.timeout(HANDSHAKE_TIMEOUT):
        first = parse_frame(await ws.recv())
        if isinstance(first, ErrorFrame):
            # e.g. WSG-400 for a malformed wsc token: start clean next time.
            session.forget()
            raise TelephonyUnavailable(
                f"gateway error {first.error_code}: {first.message}"
            )
        if not isinstance(first, ConnectionDetails):
            raise TelephonyUnavailable(f"expected ConnectionDetails, got {first!r}")
        kept = session.subscription if first.recovery_state == "Successful" else None
        if kept is None:
            # A new WebSocket session numbers its wsc from 1 again: the old
            # token is dead and must not outrank the new one.
            session.forget()
        session.seen(first.wsc)
        session.recovery_timeout = float(first.recovery_timeout or 0)
        if kept is not None:
            return Connected(first, kept, recovered=True)
        if first.recovery_state == "Failed":
            logger.warning(
                "session recovery failed (%s): resubscribing",
                first.recovery_error_code,
            )
        session.subscription = await _subscribe(ws, filters, session)
        return Connected(first, session.subscription, recovered=False)


async def _subscribe(
    ws: ClientConnection, filters: list[str], session: _Session
) -> dict[str, object]:
    message_id, frame = subscription_request(filters)
    await ws.send(frame)
    while True:
        reply = parse_frame(await ws.recv())
        if isinstance(reply, ClientResponse) and reply.message_id == message_id:
            break
    session.seen(reply.wsc)
    if reply.status == 200:
        return dict(reply.body or {})
    body = reply.body or {}
    code = str(body.get("errorCode")) if body.get("errorCode") else None
    message = str(body.get("message", "subscription refused"))
    if 400 <= reply.status < 500 and reply.status != 429:
        # Bad filters, a missing scope: retrying cannot help.
        raise _FatalStream(status=reply.status, error_code=code, message=message)
    raise TelephonyUnavailable(f"subscription: {reply.status} {code}: {message}")


async def _notifications(
    ws: ClientConnection, heartbeat_interval: float, session: _Session
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
            # What is wrong and how big, never the frame: frames carry
            # recovery tokens and customers' numbers.
            logger.warning("skipping malformed frame (%d bytes): %s", len(raw), exc)
            continue
        session.seen(getattr(frame, "wsc", None))
        if isinstance(frame, Notification):
            yield frame
        elif isinstance(frame, ErrorFrame):
            # e.g. WSG-902 idle timeout: the server closes next; log why.
            # (Cut short: the gateway's text, however long, is not ours.)
            logger.warning(
                "gateway error %.40s: %.200s", frame.error_code, frame.message
            )
