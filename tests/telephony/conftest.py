"""Fixtures for worker tests: a channel in the supervisors' group."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from channels.layers import get_channel_layer

from telephony import broadcast


@pytest.fixture
async def probe() -> AsyncIterator[tuple[Any, str]]:
    """(layer, channel): a console's view of what the worker publishes."""
    layer = get_channel_layer()
    channel = await layer.new_channel()
    await layer.group_add(broadcast.SUPERVISORS, channel)
    yield layer, channel
    await layer.group_discard(broadcast.SUPERVISORS, channel)
