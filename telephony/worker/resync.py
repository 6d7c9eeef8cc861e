"""Rebuild the live model from RingCentral's REST view after events were lost.

When: the first connection after a (re)start, a reconnect whose WebSocket
session could not be recovered, a sequence gap in a session, and the ghost
sweeper's periodic check. How (docs/ringcentral.md 8, the approach of RingCentral's
call-control SDK `preloadSessions`):

1. One paged `GET /account/~/presence?detailedTelephonyState=true` (Heavy
   group) lists every extension's active calls with their telephony state.
2. Calls the model lacks are added at once from presence (the extension's
   own legs), then completed with `GET /telephony/sessions/{id}`.
3. Calls the model has but presence lacks, and calls whose states disagree,
   are re-read with `GET /telephony/sessions/{id}`; 404 means ended.

Every GET is a background request: it waits for rate budget and leaves a
reserve for supervisors' commands, so a resync of thousands of calls is
slow on the real platform but never blocks the event stream (the worker
runs it as its own task) and never trips RingCentral's 429 penalty.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from telephony.live.model import Change, LiveModel
from telephony.live.views import CallView
from telephony.ringcentral.client import RingCentralClient, session_path
from telephony.ringcentral.events import parse_call_session
from telephony.ringcentral.exceptions import (
    MalformedFrame,
    TelephonyError,
    TelephonyRejected,
)
from telephony.ringcentral.presence import fetch_presence, sessions_from_presence

logger = logging.getLogger("telephony.worker.resync")

Publish = Callable[[Change | None], Awaitable[None]]


@dataclass
class Report:
    """What a resync corrected, for the one-line log."""

    added: int = 0
    ended: int = 0
    changed: int = 0
    live: int = 0
    errors: int = 0

    def line(self, seconds: float) -> str:
        return (
            f"resync: {self.ended} ended, {self.added} added, {self.changed} changed"
            f" ({self.live} live, {self.errors} errors, {seconds:.1f} s)"
        )


# Calls compared between two turns given to the loop's other tasks.
YIELD_EVERY = 200

# What presence can tell apart: its telephonyStatus per party status code.
# A call at voicemail is CallConnected there; ringing is Setup or Proceeding.
_PRESENCE_CLASS = {
    "Setup": "Ringing",
    "Proceeding": "Ringing",
    "Answered": "CallConnected",
    "Voicemail": "CallConnected",
    "VoiceMailScreening": "CallConnected",
    "FaxReceive": "CallConnected",
    "Hold": "OnHold",
    "Parked": "ParkedCall",
}


def _statuses(call: CallView) -> dict[str, str]:
    return {
        p["id"]: _PRESENCE_CLASS.get(p["status"], p["status"]) for p in call["parties"]
    }


class Resyncer:
    """Brings a LiveModel back in line with RingCentral."""

    def __init__(
        self,
        *,
        client: RingCentralClient,
        model: LiveModel,
        publish: Publish,
        presence: Callable[[list[dict[str, Any]]], Awaitable[None]] | None = None,
        incomplete: Callable[[str], bool] = lambda _: False,
        read: Callable[[str], None] = lambda _: None,
    ) -> None:
        self.client = client
        self.model = model
        self.publish = publish
        self.presence = presence  # told every presence record read
        # Calls known to lack events (seen first mid-way: a sequence gap),
        # and what to say once one has been read whole.
        self.incomplete = incomplete
        self.read = read
        self.last_report: Report | None = None

    async def refresh(self, session_id: str) -> str:
        """Re-read one session: "ended", "changed", "same" or "error"."""
        self.read(session_id)
        try:
            body = await self.client.request(
                "GET", session_path(session_id), background=True
            )
            snapshot = parse_call_session(body)
        except TelephonyRejected as exc:
            if exc.status != 404:
                logger.warning("re-reading %s: %s", session_id, exc)
                return "error"
            change = self.model.remove(session_id)
            await self.publish(change)
            return "ended" if change else "same"
        except (TelephonyError, MalformedFrame) as exc:
            logger.warning("re-reading %s: %s", session_id, exc)
            return "error"
        change = self.model.load_session(snapshot, now=datetime.now(UTC))
        await self.publish(change)
        if change is None:
            return "same"
        return "ended" if change.kind == "ended" else "changed"

    async def run(self, *, settled: Callable[[str], bool] = lambda _: True) -> Report:
        """A full resync; returns what it corrected (and logs it). Calls
        for which `settled(session_id)` is false (they just changed) are
        neither re-read nor confirmed: presence may lag behind them."""
        started = datetime.now(UTC)
        report = Report()
        records = await fetch_presence(self.client)
        # What the model held when presence was read: a call that starts
        # while the agents' presence is published is not one presence lacks.
        known = set(self.model.live_ids())
        if self.presence is not None:
            await self.presence(records)
        live = sessions_from_presence(records)
        for n, (session_id, snapshot) in enumerate(live.items(), start=1):
            if n % YIELD_EVERY == 0:  # thousands of calls: let others run
                await asyncio.sleep(0)
            # Re-read the model each time: GETs wait for rate budget, so
            # events may have moved on since presence was read.
            current = self.model.get(session_id)
            if current is None:
                if self.model.recently_ended(session_id):
                    # Ended meanwhile (presence is out of date), unless it
                    # ended long before presence was read: then the model
                    # missed some of its parties (lost events) and ended it
                    # wrongly. Read it; the truth decides.
                    if settled(session_id):
                        self._count(report, await self.refresh(session_id))
                    continue
                await self.publish(self.model.load_session(snapshot, now=started))
                report.added += 1
                self._count(report, await self.refresh(session_id), added=True)
            elif self.incomplete(session_id) or (
                settled(session_id)
                and any(
                    _statuses(current).get(p.id)
                    not in (None, _PRESENCE_CLASS.get(p.status.code, p.status.code))
                    for p in snapshot.parties
                )
            ):
                self._count(report, await self.refresh(session_id))
        for session_id in known - live.keys():
            if settled(session_id):
                self._count(report, await self.refresh(session_id))
        # Calls first seen mid-way while this ran (they began before the
        # stream joined): read them now, once, rather than as sequence gaps.
        for session_id in self.model.live_ids():
            if self.incomplete(session_id):
                self._count(report, await self.refresh(session_id))
        report.live = len(self.model)
        seconds = (datetime.now(UTC) - started).total_seconds()
        logger.info(report.line(seconds))
        self.last_report = report
        return report

    @staticmethod
    def _count(report: Report, outcome: str, *, added: bool = False) -> None:
        if outcome == "ended":
            report.ended += 1
        elif outcome == "changed" and not added:
            report.changed += 1
        elif outcome == "error":
            report.errors += 1
