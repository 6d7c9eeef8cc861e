"""Alerts that carry their fix: long ring, long wait in queue, long hold,
long talk, service level under target, DND too long.

Pure and in memory, owned by the worker, which calls `evaluate` about once
a second with the live calls, the agents' presence and today's queue
figures, and publishes what changed. An alert lives while its condition
holds; a supervisor may acknowledge it (who and when, shown to everyone)
and it is cleared when the condition ends. Each alert names the action
that fixes it: Unhold a long hold, Listen in on a long talk, show the
queue's calls on a long wait or a low service level, show the agent.
Thresholds are per queue, edited in the admin (telephony.models.QueueSettings).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, TypedDict

from telephony.live.views import AgentView, CallView, party_of

Kind = Literal[
    "long_ring", "long_wait", "long_hold", "long_talk", "service_level", "dnd_too_long"
]
Subject = Literal["call", "queue", "agent"]


@dataclass(frozen=True, slots=True)
class Thresholds:
    """One queue's thresholds, in seconds (service level: percent)."""

    service_level_seconds: int = 20
    service_level_target: int = 80
    long_ring_seconds: int = 30
    long_wait_seconds: int = 60
    long_hold_seconds: int = 120
    long_talk_seconds: int = 900
    dnd_too_long_seconds: int = 1800


# Service level is judged once a queue has been offered this many calls.
MIN_OFFERED_FOR_SERVICE_LEVEL = 5


class QueueFigures(TypedDict):
    """Today's figures of one call queue (from the call history)."""

    extension_id: str
    name: str
    offered: int
    answered: int
    abandoned: int
    within_service_level: int
    service_level_seconds: int
    service_level_target: int
    average_wait: float | None
    average_handle: float | None


class AlertView(TypedDict):
    """One alert as every supervisor sees it."""

    id: str
    kind: Kind
    subject: Subject
    subject_id: str  # a call's session id, a queue's or an agent's extension id
    queue: str | None  # the call queue it belongs to (extension id)
    since: str  # when the condition began (ISO UTC, Z)
    threshold: int
    fix: dict[str, str] | None
    acked_by: str | None
    acked_at: str | None
    cleared: bool


@dataclass(slots=True)
class _Alert:
    view: AlertView


@dataclass(slots=True)
class Settings:
    """Thresholds per queue extension id, and the defaults."""

    defaults: Thresholds = field(default_factory=Thresholds)
    queues: dict[str, Thresholds] = field(default_factory=dict)

    def of(self, queue: str | None) -> Thresholds:
        return self.queues.get(queue or "", self.defaults)


class AlertBoard:
    """The alerts now, by id."""

    def __init__(self) -> None:
        self.settings = Settings()
        self._alerts: dict[str, _Alert] = {}

    def snapshot(self) -> list[AlertView]:
        return [dict(a.view) for a in self._alerts.values()]  # type: ignore[misc]

    def evaluate(
        self,
        *,
        now: datetime,
        calls: Iterable[CallView],
        agents: Iterable[AgentView],
        queues: Iterable[QueueFigures],
    ) -> list[AlertView]:
        """Raise and clear alerts for the floor as it is now; returns every
        alert that changed (cleared ones with `cleared` true)."""
        found: dict[str, AlertView] = {}
        for call in calls:
            for view in self._call_alerts(call, now):
                found[view["id"]] = view
        for agent in agents:
            if (dnd := self._dnd_alert(agent, now)) is not None:
                found[dnd["id"]] = dnd
        for figures in queues:
            if (low := self._service_level_alert(figures, now)) is not None:
                found[low["id"]] = low
        changed: list[AlertView] = []
        for alert_id in [a for a in self._alerts if a not in found]:
            gone = self._alerts.pop(alert_id).view
            changed.append({**gone, "cleared": True})
        for alert_id, view in found.items():
            if alert_id in self._alerts:
                continue  # still on: acknowledged or not, nothing new
            self._alerts[alert_id] = _Alert(view)
            changed.append(view)
        return changed

    def acknowledge(
        self, alert_id: str, *, user: str, now: datetime
    ) -> AlertView | None:
        """A supervisor took it on; None if there is no such alert now."""
        alert = self._alerts.get(alert_id)
        if alert is None:
            return None
        alert.view["acked_by"], alert.view["acked_at"] = user, _stamp(now)
        return dict(alert.view)  # type: ignore[return-value]

    # --- conditions ----------------------------------------------------------

    def _call_alerts(self, call: CallView, now: datetime) -> list[AlertView]:
        queue = call["queue"]["extension_id"] if call["queue"] else None
        limits = self.settings.of(queue)
        alerts = []
        waiting = call["answered_at"] is None and call["state"] != "voicemail"
        if (
            queue
            and waiting
            and _over(call["started_at"], limits.long_wait_seconds, now)
        ):
            alerts.append(
                _alert("long_wait", "call", call["id"], queue, call["started_at"],
                       limits.long_wait_seconds, {"view": "queue", "queue": queue})
            )  # fmt: skip
        agent = party_of(call, call["agent_party_id"])
        if agent is None:
            return alerts
        target = {"sessionId": call["id"], "partyId": agent["id"]}
        unhold, listen = {"action": "unhold", **target}, {"action": "listen", **target}
        rules: dict[str, tuple[Kind, int, dict[str, str] | None]] = {
            "Proceeding": ("long_ring", limits.long_ring_seconds, None),
            "Hold": ("long_hold", limits.long_hold_seconds, unhold),
            "Answered": ("long_talk", limits.long_talk_seconds, listen),
        }
        rule = rules.get(agent["status"])
        if rule is not None and _over(agent["since"], rule[1], now):
            kind, limit, fix = rule
            alerts.append(
                _alert(kind, "call", call["id"], queue, agent["since"], limit, fix)
            )
        return alerts

    def _dnd_alert(self, agent: AgentView, now: datetime) -> AlertView | None:
        limit = self.settings.defaults.dnd_too_long_seconds
        if agent["availability"] != "dnd" or not _over(agent["since"], limit, now):
            return None
        ext = agent["extension_id"]
        return _alert("dnd_too_long", "agent", ext, None, agent["since"], limit,
                      {"view": "agent", "ext": ext})  # fmt: skip

    def _service_level_alert(
        self, figures: QueueFigures, now: datetime
    ) -> AlertView | None:
        offered = figures["offered"]
        if offered < MIN_OFFERED_FOR_SERVICE_LEVEL:
            return None
        level = 100 * figures["within_service_level"] / offered
        target = figures["service_level_target"]
        if level >= target:
            return None
        ext = figures["extension_id"]
        day = _stamp(now.replace(hour=0, minute=0, second=0, microsecond=0))
        return _alert("service_level", "queue", ext, ext, day, target,
                      {"view": "queue", "queue": ext})  # fmt: skip


def settings_from(rows: Iterable[Mapping[str, Any]]) -> Settings:
    """Settings from QueueSettings rows (`values()`); "" is the defaults."""
    names = Thresholds.__slots__
    settings = Settings()
    for row in rows:
        thresholds = Thresholds(**{n: row[n] for n in names if n in row})
        if row.get("queue_extension_id"):
            settings.queues[row["queue_extension_id"]] = thresholds
        else:
            settings.defaults = thresholds
    return settings


def _alert(
    kind: Kind,
    subject: Subject,
    subject_id: str,
    queue: str | None,
    since: str,
    threshold: int,
    fix: dict[str, str] | None,
) -> AlertView:
    return {
        "id": f"{kind}:{subject_id}",
        "kind": kind,
        "subject": subject,
        "subject_id": subject_id,
        "queue": queue,
        "since": since,
        "threshold": threshold,
        "fix": fix,
        "acked_by": None,
        "acked_at": None,
        "cleared": False,
    }


def _over(since: str, seconds: int, now: datetime) -> bool:
    if not since:
        return False
    began = datetime.fromisoformat(since)
    return (now - began).total_seconds() > seconds


def _stamp(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")
