"""Where the live feed writes a console's frames, and how full that is.

Under daphne (`manage.py serve`, the scaled deployment) the feed writes to
the console's WebSocket protocol directly: each frame is framed ONCE per
process (autobahn's prepared messages) and handed to every socket, and the
bytes a socket has not yet passed to the kernel are known, so a console
that stops reading is noticed (backpressure: dashboard.feed). Anything
else (Channels' test communicator, another ASGI server) gets the ASGI
`send`, with nothing known about what is unsent.

daphne gives a consumer its protocol only as the first argument of the
`send` callable it passes in (`functools.partial(Server.handle_reply,
protocol)`, possibly wrapped by middleware); `sink_for` recognises exactly
that and falls back otherwise.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import socket
from typing import Any, Protocol

# Twisted pauses a registered streaming producer above this many buffered
# bytes and resumes it once the buffer is empty.
TWISTED_BUFFER = 65_536
# Frames up to this size go straight to the socket (DaphneSink._send_now):
# deltas. Bigger ones (snapshot parts) are more than one send anyway, and
# Twisted sends them from the one shared bytes object, where a remainder
# handed over here would be a copy per console.
DIRECT_MAX = 65_536


class Frame:
    """One frame's text, encoded and framed at most once per process."""

    __slots__ = ("_payload", "_prepared", "text")

    def __init__(self, text: str) -> None:
        self.text = text
        self._payload: bytes | None = None
        self._prepared: dict[int, Any] = {}

    @property
    def payload(self) -> bytes:
        if self._payload is None:
            self._payload = self.text.encode()
        return self._payload

    def prepared(self, factory: Any) -> Any:
        """autobahn's PreparedMessage for sockets of `factory`."""
        key = id(factory)
        message = self._prepared.get(key)
        if message is None:
            message = self._prepared[key] = factory.prepareMessage(self.payload)
        return message

    def __len__(self) -> int:
        return len(self.text)


class Sink(Protocol):
    """A console's socket as the feed sees it."""

    def unsent(self) -> int:
        """Bytes written but not yet accepted by the kernel."""

    async def write(self, frame: Frame) -> None: ...

    async def drained(self) -> None:
        """Return once little enough is unsent to write a large frame."""

    def abort(self) -> None:
        """Drop the connection at once (it is not reading)."""


class DaphneSink:
    """A console's daphne WebSocket protocol, written to directly.

    `sndbuf` caps the kernel's send buffer of the socket: by default Linux
    lets it grow to 4 MB, which for 1,000 consoles is gigabytes the server
    cannot account for, and which hides a console that stopped reading.
    """

    def __init__(self, protocol: Any, *, sndbuf: int | None = None) -> None:
        self.protocol = protocol
        self.transport = protocol.transport
        if sndbuf:
            with contextlib.suppress(AttributeError, OSError):
                handle = self.transport.getHandle()
                handle.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, sndbuf)
        # A plain Twisted TCP connection under an autobahn protocol: frames
        # can go to the socket directly (_send_now).
        self._direct = all(
            hasattr(self.transport, name)
            for name in (
                "writeSomeData",
                "dataBuffer",
                "offset",
                "_tempDataLen",
                "_writeDisconnected",
            )
        ) and all(
            hasattr(protocol, name)
            for name in (
                "send_queue",
                "logOctets",
                "_perMessageCompress",
                "trafficStats",
            )
        )
        self._resumed = asyncio.Event()
        self._resumed.set()
        self._producer = False
        if getattr(self.transport, "producer", None) is None:
            self.transport.registerProducer(self, True)
            self._producer = True

    @property
    def open(self) -> bool:
        return bool(self.protocol.state == self.protocol.STATE_OPEN)

    def unsent(self) -> int:
        t = self.transport
        try:
            return len(t.dataBuffer) - t.offset + t._tempDataLen
        except AttributeError:  # not a Twisted FileDescriptor
            return 0

    async def write(self, frame: Frame) -> None:
        if self.open:
            prepared = frame.prepared(self.protocol.factory)
            if not self._send_now(prepared):
                self.protocol.sendPreparedMessage(prepared)

    def _send_now(self, prepared: Any) -> bool:
        """Send a prepared frame straight to the socket when nothing is
        waiting before it; False to leave it to autobahn and Twisted.

        Twisted's `write` only buffers: it registers the socket for writing
        (an epoll_ctl), sends on the loop's next turn and unregisters (one
        more). At 1,000 consoles that scheduling, not the send, was most of
        the process (docs/benchmarks.md). So when Twisted's buffer and
        autobahn's queue are empty (nothing can be overtaken), the frame's
        bytes go to the socket now, and only what the kernel did not take
        is handed to the transport, behind nothing (frames up to
        DIRECT_MAX). What autobahn's `sendData` would do besides is done
        here: its byte count.
        """
        protocol, t = self.protocol, self.transport
        if (
            not self._direct
            or getattr(t, "TLS", False)
            or not t.connected
            or t.disconnecting
            or t._writeDisconnected
            or t._tempDataLen
            or len(t.dataBuffer) - t.offset
            or protocol.send_queue
            or protocol.logOctets
            or not (protocol._perMessageCompress is None or prepared.doNotCompress)
        ):
            return False
        data = prepared.payloadHybi
        if len(data) > DIRECT_MAX:
            return False
        sent = t.writeSomeData(data)
        if isinstance(sent, Exception):
            return False  # the connection is lost: Twisted's path reports it
        if sent < len(data):
            t.write(data[sent:])
        protocol.trafficStats.outgoingOctetsWireLevel += len(data)
        return True

    async def drained(self) -> None:
        while self.open and self.unsent() > TWISTED_BUFFER:
            if self._producer:
                self._resumed.clear()
                await self._resumed.wait()
            else:
                await asyncio.sleep(0.05)

    def abort(self) -> None:
        self.protocol.dropConnection(abort=True)

    # Twisted's IPushProducer: told when the socket's buffer is full/empty.
    def pauseProducing(self) -> None:
        self._resumed.clear()

    def resumeProducing(self) -> None:
        self._resumed.set()

    def stopProducing(self) -> None:
        self._resumed.set()


class AsgiSink:
    """Any other server: the ASGI send of the consumer."""

    def __init__(self, consumer: Any) -> None:
        self.consumer = consumer

    def unsent(self) -> int:
        return 0

    async def write(self, frame: Frame) -> None:
        await self.consumer.send(text_data=frame.text)

    async def drained(self) -> None:
        return None

    def abort(self) -> None:
        self._closing = asyncio.ensure_future(self.consumer.close(code=4008))


def sink_for(consumer: Any, *, sndbuf: int | None = None) -> Sink:
    """The fastest sink this consumer's server allows."""
    protocol = _daphne_protocol(getattr(consumer, "base_send", None))
    if protocol is not None:
        return DaphneSink(protocol, sndbuf=sndbuf)
    return AsgiSink(consumer)


def _daphne_protocol(send: Any) -> Any:
    """daphne's protocol behind a consumer's `send`, or None.

    Channels' session middleware wraps `send` (its wrapper keeps the one it
    wraps as `real_send`; it acts only on the handshake, never on frames).
    """
    for _ in range(8):
        if (
            isinstance(send, functools.partial)
            and getattr(send.func, "__name__", "") == "handle_reply"
            and send.args
            and hasattr(send.args[0], "sendPreparedMessage")
            and getattr(send.args[0], "transport", None) is not None
        ):
            return send.args[0]
        send = getattr(getattr(send, "__self__", None), "real_send", None)
        if send is None:
            return None
    return None
