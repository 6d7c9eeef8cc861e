"""Receiving browser frames in tests: each is checked against the protocol
(dashboard.protocol) on the way in, so every frame a test sees from the
server is one the page knows."""

from __future__ import annotations

from typing import Any

from channels.testing import WebsocketCommunicator

from dashboard import protocol
from tests.support import WAIT


async def receive_frame(communicator: WebsocketCommunicator) -> dict[str, Any]:
    """The next frame, within WAIT, checked against the protocol."""
    frame: dict[str, Any] = await communicator.receive_json_from(timeout=WAIT)
    protocol.check_frame(frame)
    return frame
