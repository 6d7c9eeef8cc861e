"""DaphneSink writes a frame straight to the socket when nothing waits
before it, and otherwise leaves it to autobahn and Twisted, so bytes are
never reordered. Real parts: a socket pair, Twisted's TCP connection and
autobahn's server protocol; only the reactor is a recorder."""

from __future__ import annotations

import socket
from collections import deque
from collections.abc import Iterator
from typing import Any

import pytest
from autobahn.twisted.websocket import WebSocketServerFactory, WebSocketServerProtocol
from autobahn.websocket.protocol import TrafficStats, WebSocketProtocol
from twisted.internet import tcp

from dashboard.sinks import DaphneSink, Frame


class Reactor:
    """What Twisted's connection asks of a reactor, recorded."""

    def __init__(self) -> None:
        self.writers: list[Any] = []

    def addWriter(self, selectable: Any) -> None:
        if selectable not in self.writers:  # as a reactor's set of writers
            self.writers.append(selectable)

    def removeWriter(self, selectable: Any) -> None:
        if selectable in self.writers:
            self.writers.remove(selectable)

    def addReader(self, selectable: Any) -> None:
        pass

    def removeReader(self, selectable: Any) -> None:
        pass


@pytest.fixture
def wire() -> Iterator[tuple[DaphneSink, tcp.Connection, socket.socket, Reactor]]:
    ours, peer = socket.socketpair()
    peer.setblocking(False)
    reactor = Reactor()
    protocol = WebSocketServerProtocol()
    protocol.factory = WebSocketServerFactory()
    protocol.state = WebSocketProtocol.STATE_OPEN
    protocol._perMessageCompress = None
    protocol.trafficStats = TrafficStats()
    connection = tcp.Connection(ours, protocol, reactor=reactor)
    connection.connected = 1
    protocol.transport = connection
    protocol.send_queue = deque()
    protocol.logOctets = False
    try:
        yield DaphneSink(protocol), connection, peer, reactor
    finally:
        ours.close()
        peer.close()


def received(peer: socket.socket) -> bytes:
    chunks = []
    while True:
        try:
            chunk = peer.recv(1 << 20)
        except BlockingIOError:
            return b"".join(chunks)
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)


def framed(sink: DaphneSink, text: str) -> bytes:
    frame = Frame(text)
    return bytes(frame.prepared(sink.protocol.factory).payloadHybi)


async def test_a_frame_goes_to_the_socket_at_once_when_nothing_waits(wire):
    sink, _, peer, reactor = wire
    text = '{"type":"delta","n":1}'
    await sink.write(Frame(text))
    assert received(peer) == framed(sink, text)
    assert reactor.writers == []  # no write registration, no next-turn send
    assert sink.unsent() == 0
    assert sink.protocol.trafficStats.outgoingOctetsWireLevel == len(framed(sink, text))


async def test_bytes_already_buffered_go_first(wire):
    sink, connection, peer, reactor = wire
    connection.write(b"earlier")  # e.g. a command reply, sent next turn
    text = '{"type":"delta","n":2}'
    await sink.write(Frame(text))
    assert received(peer) == b""  # the frame did not overtake
    assert reactor.writers == [connection]
    connection.doWrite()
    assert received(peer) == b"earlier" + framed(sink, text)


async def test_what_the_kernel_does_not_take_is_buffered_in_order(wire):
    sink, connection, peer, reactor = wire
    connection.socket.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
    texts = ['{"type":"delta","calls":"' + "x" * 60_000 + '"}'] * 3
    texts.append('{"type":"delta","n":3}')
    await sink.write(Frame(texts[0]))
    assert 0 < sink.unsent() < len(texts[0])  # part sent now, the rest buffered
    assert reactor.writers == [connection]
    for text in texts[1:]:
        await sink.write(Frame(text))  # behind the rest, not before it
    got = b""
    while connection.dataBuffer or connection._tempDataLen:
        got += received(peer)
        connection.doWrite()
    got += received(peer)
    assert got == b"".join(framed(sink, text) for text in texts)


async def test_a_big_frame_is_left_to_twisted(wire):
    sink, connection, peer, reactor = wire
    big = '{"type":"snapshot","calls":"' + "x" * 200_000 + '"}'
    await sink.write(Frame(big))
    assert received(peer) == b""  # sent on the loop's next turn, not copied
    assert reactor.writers == [connection]
    got = b""
    while connection.dataBuffer or connection._tempDataLen:
        connection.doWrite()
        got += received(peer)
    assert got == framed(sink, big)


async def test_a_closing_socket_gets_nothing(wire):
    sink, _, peer, reactor = wire
    sink.protocol.state = WebSocketProtocol.STATE_CLOSING
    await sink.write(Frame('{"type":"delta","n":4}'))
    assert received(peer) == b""
    assert reactor.writers == []
