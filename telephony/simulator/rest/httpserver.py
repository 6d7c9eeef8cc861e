"""A small asyncio HTTP/1.1 server that hands WebSocket upgrades away.

websockets' own HTTP parser refuses request bodies, and the platform's
OAuth endpoint needs form bodies, so plain HTTP is parsed here: keep-alive,
pipelining, Content-Length bodies (no chunked uploads: no RingCentral client
sends them). A request carrying `Upgrade: websocket` is not parsed further:
the raw bytes and the transport go to the upgrade callback, which switches
the transport to a websockets connection. One port therefore serves REST,
the control API and the gateway, like the platform's single host name.

Handlers are synchronous on purpose: every answer comes from in-memory
state, so no task per request is needed and responses keep pipeline order.
A response may ask to be held back (`delay`, the slow_http fault): the
connection then stops reading until it is written, so order still holds.
"""

from __future__ import annotations

import asyncio
import dataclasses
import email.utils
import http
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

from telephony.simulator.rest.errors import error_body

logger = logging.getLogger("telephony.simulator.http")

# Limits that no legitimate client comes near; they keep a broken client
# from growing the buffer without bound.
MAX_HEAD_BYTES = 64 * 1024
MAX_BODY_BYTES = 1024 * 1024


@dataclass(frozen=True)
class Request:
    """One parsed HTTP request. Header names are lower case."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes = b""
    version: str = "HTTP/1.1"

    def header(self, name: str) -> str:
        """Header value or "" (names are case-insensitive)."""
        return self.headers.get(name.lower(), "")

    def query_value(self, name: str) -> str | None:
        """First value of a query parameter."""
        values = self.query.get(name)
        return values[0] if values else None


@dataclass
class Response:
    """An HTTP response; `body` is already encoded."""

    status: int
    body: bytes = b""
    content_type: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    # Seconds to hold the response back (injected latency).
    delay: float = 0.0


Handler = Callable[[Request], Response]
Upgrade = Callable[[asyncio.Transport, bytes], None]


def json_response(
    status: int, data: Any, headers: dict[str, str] | None = None
) -> Response:
    """Response with a compact JSON body."""
    body = json.dumps(data, separators=(",", ":")).encode()
    return Response(status, body, "application/json", dict(headers or {}))


def parse_head(head: bytes) -> Request:
    """Parse a request line and headers; raises ValueError when malformed."""
    lines = head.decode("latin-1").split("\r\n")
    method, target, version = lines[0].split(" ")
    if not version.startswith("HTTP/1."):
        raise ValueError(f"unsupported version {version}")
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if not sep or not name or name != name.strip():
            raise ValueError(f"bad header line {line!r}")
        key = name.lower()
        value = value.strip()
        headers[key] = f"{headers[key]}, {value}" if key in headers else value
    url = urlsplit(target)
    return Request(method, url.path, parse_qs(url.query), headers, version=version)


def encode_response(response: Response, *, keep_alive: bool) -> bytes:
    """Serialise a response with Date, Content-Length and Connection."""
    status = http.HTTPStatus(response.status)
    headers = {"Date": email.utils.formatdate(usegmt=True), **response.headers}
    if response.content_type is not None:
        headers["Content-Type"] = response.content_type
    headers["Content-Length"] = str(len(response.body))
    if not keep_alive:
        headers["Connection"] = "close"
    lines = [f"HTTP/1.1 {status.value} {status.phrase}"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + response.body


def wants_keep_alive(request: Request) -> bool:
    """HTTP/1.1 keeps the connection unless told not to; 1.0 the reverse."""
    connection = request.header("connection").lower()
    if request.version == "HTTP/1.0":
        return "keep-alive" in connection
    return "close" not in connection


def is_upgrade(request: Request) -> bool:
    """True for a WebSocket opening handshake."""
    return request.method == "GET" and "websocket" in request.header("upgrade").lower()


class Connections:
    """Open HTTP connections, so shutdown can close and await them."""

    def __init__(self) -> None:
        self._open: set[HttpProtocol] = set()
        self._empty = asyncio.Event()
        self._empty.set()

    def add(self, connection: HttpProtocol) -> None:
        """Track a new connection."""
        self._open.add(connection)
        self._empty.clear()

    def discard(self, connection: HttpProtocol) -> None:
        """Forget a closed (or handed over) connection."""
        self._open.discard(connection)
        if not self._open:
            self._empty.set()

    def close_all(self) -> None:
        """Close every connection (idle keep-alive ones included)."""
        for connection in list(self._open):
            connection.close()

    async def wait_closed(self) -> None:
        """Return once every connection has been released by asyncio."""
        await self._empty.wait()


class HttpProtocol(asyncio.Protocol):
    """One TCP connection: parse requests, answer them in order."""

    def __init__(
        self, handler: Handler, upgrade: Upgrade, registry: Connections
    ) -> None:
        self._handler = handler
        self._upgrade = upgrade
        self._registry = registry
        self._buffer = bytearray()
        self._transport: asyncio.Transport | None = None
        self._delayed: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        """Register the connection so shutdown can close it."""
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport
        self._registry.add(self)

    def connection_lost(self, exc: Exception | None) -> None:
        """Forget the connection."""
        self._registry.discard(self)
        self._transport = None
        if self._delayed is not None:
            self._delayed.cancel()

    def data_received(self, data: bytes) -> None:
        """Buffer bytes and answer every complete request."""
        self._buffer += data
        while (
            self._transport is not None and self._delayed is None and self._handle_one()
        ):
            pass

    def close(self) -> None:
        """Close the connection (used at shutdown)."""
        if self._transport is not None:
            self._transport.close()

    def _handle_one(self) -> bool:
        """Answer the first buffered request; False if it is incomplete."""
        end = self._buffer.find(b"\r\n\r\n")
        if end < 0:
            if len(self._buffer) > MAX_HEAD_BYTES:
                self._fail(431, "Request header fields too large")
            return False
        try:
            request = parse_head(bytes(self._buffer[:end]))
            length = int(request.header("content-length") or 0)
        except ValueError:
            self._fail(400, "Cannot parse request")
            return False
        if is_upgrade(request):
            self._hand_over()
            return False
        if request.header("transfer-encoding") or length > MAX_BODY_BYTES or length < 0:
            self._fail(413, "Request body is too large or chunked")
            return False
        start = end + 4
        if len(self._buffer) < start + length:
            return False
        body = bytes(self._buffer[start : start + length])
        del self._buffer[: start + length]
        self._answer(dataclasses.replace(request, body=body))
        return True

    def _answer(self, request: Request) -> None:
        try:
            response = self._handler(request)
        except Exception:
            logger.exception("handler failed for %s %s", request.method, request.path)
            response = json_response(
                500, error_body("CMN-203", "Internal Server Error")
            )
        keep_alive = wants_keep_alive(request)
        assert self._transport is not None
        if response.delay > 0:
            # Later requests wait behind this one (pipeline order).
            self._transport.pause_reading()
            self._delayed = asyncio.get_running_loop().call_later(
                response.delay, self._write_delayed, response, keep_alive
            )
            return
        self._write(response, keep_alive)

    def _write(self, response: Response, keep_alive: bool) -> None:
        assert self._transport is not None
        self._transport.write(encode_response(response, keep_alive=keep_alive))
        if not keep_alive:
            self._shut()

    def _write_delayed(self, response: Response, keep_alive: bool) -> None:
        self._delayed = None
        if self._transport is None:
            return
        self._write(response, keep_alive)
        if self._transport is not None:
            self._transport.resume_reading()
            self.data_received(b"")

    def _shut(self) -> None:
        # Dropping the reference stops the parse loop; pipelined requests
        # after a "Connection: close" one are discarded, as RFC 9112 allows.
        assert self._transport is not None
        self._transport.close()
        self._transport = None
        self._buffer.clear()

    def _fail(self, status: int, message: str) -> None:
        assert self._transport is not None
        response = json_response(status, error_body("CMN-104", message))
        self._transport.write(encode_response(response, keep_alive=False))
        self._shut()

    def _hand_over(self) -> None:
        # From here on the transport belongs to the websockets connection,
        # which re-parses the handshake from the untouched buffer.
        transport, self._transport = self._transport, None
        self._registry.discard(self)
        assert transport is not None
        buffered, self._buffer = bytes(self._buffer), bytearray()
        self._upgrade(transport, buffered)
