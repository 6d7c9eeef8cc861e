"""The channel layer of the single-process `manage.py serve`.

channels' InMemoryChannelLayer scans every channel it knows for expired
messages on every send to a group and every receive. Every console's
consumer waits on its own channel, so at 1,000 consoles each of the
worker's ~300 changes a second costs two scans of 1,000 channels: about a
tenth of the process's time (measured, docs/benchmarks.md). Expiry is a
safety net for messages nobody reads (60 s by default); looking once a
second is as good a net.
"""

from __future__ import annotations

import time

from channels.layers import InMemoryChannelLayer as _ChannelsInMemoryLayer

# Seconds between two expiry scans.
SCAN_INTERVAL = 1.0


class InMemoryChannelLayer(_ChannelsInMemoryLayer):
    """channels' in-memory layer, expiring old messages once a second."""

    _last_scan = 0.0

    def _clean_expired(self) -> None:
        now = time.monotonic()
        if now - self._last_scan < SCAN_INTERVAL:
            return
        self._last_scan = now
        super()._clean_expired()
