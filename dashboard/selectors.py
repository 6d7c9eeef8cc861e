"""Reads for the dashboard: models into JSON-ready dicts (no network).

Cheap at any size: each read is one `values_list` query over its table
(10,000 extensions and their queue memberships are two queries), never a
query per row."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypedDict

from django.db.models import F, Max, Min, Q, QuerySet

from dashboard.timeline import (
    AuditedCommand,
    ExtensionName,
    JournalEvent,
    TimelineEntry,
    timeline_entries,
)
from telephony.live.views import own_end
from telephony.models import (
    CallEvent,
    CallRecord,
    CommandAudit,
    Extension,
    FloorMark,
    PartyRecord,
    QueueMember,
)

# RingCentral's extension type of a call queue (docs/ringcentral.md 8.3).
CALL_QUEUE = "Department"


class DirectoryEntry(TypedDict):
    """One extension as the page knows it."""

    number: str
    name: str
    type: str  # RingCentral's: User, Department (a call queue), IvrMenu, ...


class CallQueue(TypedDict):
    """One call queue and its members' extension ids."""

    ext: str
    number: str
    name: str
    members: list[str]


def extension_directory_get() -> dict[str, DirectoryEntry]:
    """The extension directory: {extension_id: {"number", "name", "type"}}."""
    return {
        ext_id: {"number": number, "name": name, "type": kind}
        for ext_id, number, name, kind in Extension.objects.values_list(
            "extension_id", "extension_number", "name", "type"
        )
    }


def call_queues_get(
    directory: Mapping[str, DirectoryEntry] | None = None,
) -> list[CallQueue]:
    """The call queues (the directory's `Department` extensions) with their
    members as RingCentral listed them at the last refresh:
    [{"ext", "number", "name", "members": [extension_id, ...]}], sorted by
    name (then number); members by name, those unknown to the directory
    last. Pass the `directory` already read to spare its query."""
    if directory is None:
        directory = extension_directory_get()
    members: dict[str, list[str]] = {}
    for queue, member in QueueMember.objects.values_list(
        "queue_extension_id", "member_extension_id"
    ):
        members.setdefault(queue, []).append(member)

    def by_name(ext_id: str) -> tuple[bool, str, str, str]:
        entry = directory.get(ext_id)
        if entry is None:
            return (True, "", "", ext_id)
        return (False, entry["name"].casefold(), entry["number"], ext_id)

    queues: list[CallQueue] = [
        {
            "ext": ext_id,
            "number": entry["number"],
            "name": entry["name"],
            "members": sorted(members.get(ext_id, ()), key=by_name),
        }
        for ext_id, entry in directory.items()
        if entry["type"] == CALL_QUEUE
    ]
    queues.sort(key=lambda q: by_name(q["ext"]))
    return queues


# --- floor replay (dashboard.replay) ------------------------------------------


def replay_window_get() -> tuple[datetime | None, datetime | None]:
    """The first and last moment the call journal holds."""
    bounds = CallEvent.objects.aggregate(first=Min("at"), last=Max("at"))
    return bounds["first"], bounds["last"]


def floor_at_get(*, at: datetime) -> list[Any]:
    """The live calls (CallViews) as the consoles had them at `at`: the
    floor mark before it, then each call's latest change up to `at`."""
    mark = FloorMark.objects.filter(at__lte=at).order_by("-at").first()
    since = mark.at if mark else None
    calls: dict[str, Any] = {}
    if mark is not None:
        for sid, call in CallEvent.objects.filter(pk__in=mark.events).values_list(
            "telephony_session_id", "call"
        ):
            calls[sid] = call
    updated, ended = floor_changes_list(after=since, until=at)
    for call in updated:
        calls[call["id"]] = call
    for sid in ended:
        calls.pop(sid, None)
    return sorted(calls.values(), key=lambda c: (c["started_at"], c["id"]))


def floor_changes_list(
    *, after: datetime | None, until: datetime
) -> tuple[list[Any], list[str]]:
    """Each call's latest change in (after, until], coalesced as the live
    feed coalesces: (calls updated, ids of calls ended)."""
    events = CallEvent.objects.filter(at__lte=until)
    if after is not None:
        events = events.filter(at__gt=after)
    latest = events.values("telephony_session_id").annotate(last=Max("pk"))
    updated: list[Any] = []
    ended: list[str] = []
    rows = CallEvent.objects.filter(pk__in=latest.values("last")).order_by("pk")
    for sid, kind, call in rows.values_list("telephony_session_id", "kind", "call"):
        if kind == "ended":
            ended.append(sid)
        else:
            updated.append(call)
    return updated, ended


# --- call history (dashboard.history) ------------------------------------------

# The columns of the History list and its CSV export, read with values():
# never model instances, so a page or an export holds plain tuples.
HISTORY_COLUMNS = (
    "id",
    "telephony_session_id",
    "started_at",
    "direction",
    "agent_name",
    "agent_extension_id",
    "agent_number",
    "customer_number",
    "customer_name",
    "queue_name",
    "ring_seconds",
    "talk_seconds",
    "hold_seconds",
    "hold_count",
    "recordings",
    "result",
    "final_reason",
)
# Characters people type in a number that RingCentral's E.164 has not.
_NUMBER_NOISE = str.maketrans("", "", " -().")


@dataclass(frozen=True, slots=True)
class HistoryFilters:
    """The History search: every field optional. `number` matches part of
    the customer's or the agent's number; `agent` part of the agent's name
    or their extension number; `queue` part of its name or its extension
    number; `started_from`/`started_before` bound the start (aware)."""

    number: str = ""
    agent: str = ""
    queue: str = ""
    started_from: datetime | None = None
    started_before: datetime | None = None
    result: str = ""


@dataclass(frozen=True, slots=True)
class HistoryPage:
    """One page of finished calls, newest first, with keyset cursors: the
    id to pass as `before` for older calls, as `after` for newer ones."""

    rows: list[dict[str, Any]]
    older: int | None
    newer: int | None


def extension_numbers_get(*, extension_ids: Collection[str]) -> dict[str, str]:
    """{extension_id: extension number} of those the directory knows."""
    return dict(
        Extension.objects.filter(
            extension_id__in=[x for x in extension_ids if x]
        ).values_list("extension_id", "extension_number")
    )


def _extension_ids(number: str) -> list[str]:
    return list(
        Extension.objects.filter(extension_number=number).values_list(
            "extension_id", flat=True
        )
    )


def call_records_filtered(*, filters: HistoryFilters) -> QuerySet[CallRecord]:
    """The finished calls that match `filters`, unordered."""
    calls = CallRecord.objects.filter(ended=True)
    number = filters.number.translate(_NUMBER_NOISE)
    if number:
        calls = calls.filter(
            Q(customer_number__icontains=number) | Q(agent_number__icontains=number)
        )
    if agent := filters.agent.strip():
        ids = [agent, *_extension_ids(agent)]
        calls = calls.filter(
            Q(agent_name__icontains=agent) | Q(agent_extension_id__in=ids)
        )
    if queue := filters.queue.strip():
        ids = [queue, *_extension_ids(queue)]
        calls = calls.filter(
            Q(queue_name__icontains=queue) | Q(queue_extension_id__in=ids)
        )
    if filters.started_from is not None:
        calls = calls.filter(started_at__gte=filters.started_from)
    if filters.started_before is not None:
        calls = calls.filter(started_at__lt=filters.started_before)
    if filters.result:
        calls = calls.filter(result=filters.result)
    return calls


def call_record_list(
    *,
    filters: HistoryFilters,
    before: int | None = None,
    after: int | None = None,
    limit: int = 50,
) -> HistoryPage:
    """A page of finished calls matching `filters`, newest first: the first
    page, the one older than the call `before`, or the one newer than the
    call `after` (ids from a previous page). Keyset pagination on the
    (started_at, id) order, which the index on started_at serves: no
    COUNT and no OFFSET, so a page costs the same at row 1 or 1,000,000."""
    calls = call_records_filtered(filters=filters)
    newest_first = ("-started_at", "-id")
    cursor_id = before if before is not None else after
    cursor = (
        CallRecord.objects.filter(pk=cursor_id).values_list("started_at", flat=True)
        if cursor_id is not None
        else None
    )
    at = cursor.first() if cursor is not None else None
    if before is not None and at is not None:
        # The plain bound first, so the index seeks to it (an OR alone
        # makes the database walk the index from the newest call).
        calls = calls.filter(started_at__lte=at).filter(
            Q(started_at__lt=at) | Q(pk__lt=before)
        )
    elif after is not None and at is not None:
        calls = calls.filter(started_at__gte=at).filter(
            Q(started_at__gt=at) | Q(pk__gt=after)
        )
        rows = list(
            calls.order_by("started_at", "id").values(*HISTORY_COLUMNS)[: limit + 1]
        )
        more_newer = len(rows) > limit
        rows = rows[:limit][::-1]
        return HistoryPage(
            rows=[_history_row(r) for r in rows],
            older=rows[-1]["id"] if rows else None,
            newer=rows[0]["id"] if rows and more_newer else None,
        )
    rows = list(calls.order_by(*newest_first).values(*HISTORY_COLUMNS)[: limit + 1])
    more_older = len(rows) > limit
    rows = rows[:limit]
    paged = before is not None and at is not None
    return HistoryPage(
        rows=[_history_row(r) for r in rows],
        older=rows[-1]["id"] if rows and more_older else None,
        newer=rows[0]["id"] if rows and paged else None,
    )


def _history_row(row: dict[str, Any]) -> dict[str, Any]:
    recordings = row.pop("recordings")
    row["recording_count"] = len(recordings) if isinstance(recordings, list) else 0
    return row


def call_record_export_rows(*, filters: HistoryFilters) -> QuerySet[Any]:
    """The finished calls matching `filters` for the CSV export, newest
    first, as dicts of HISTORY_COLUMNS: no model instances. values(), not
    values_list(): Django's tuple iterable runs its query as soon as it is
    made, which `aiterator()` does in the event loop under ASGI
    (SynchronousOnlyOperation); the dict iterable waits for the worker
    thread."""
    return (
        call_records_filtered(filters=filters)
        .order_by("-started_at", "-id")
        .values(*HISTORY_COLUMNS)
    )


@dataclass(frozen=True, slots=True)
class CallPage:
    """One call's page: its record (None while no row was written yet),
    whether it is still in progress, its parties and its timeline."""

    telephony_session_id: str
    record: CallRecord | None
    in_progress: bool
    parties: list[PartyRecord]
    latest: Any  # the journal's latest CallView of it, or None
    timeline: list[TimelineEntry]


def call_page_get(*, telephony_session_id: str) -> CallPage | None:
    """Everything a call's page shows, or None when nothing is known of the
    call: neither a history row, nor a journal event, nor a command."""
    record = (
        CallRecord.objects.filter(telephony_session_id=telephony_session_id)
        .prefetch_related("parties")
        .first()
    )
    events = [
        JournalEvent(at=at, kind=kind, call=call)
        for at, kind, call in CallEvent.objects.filter(
            telephony_session_id=telephony_session_id
        )
        .order_by("at", "id")
        .values_list("at", "kind", "call")
    ]
    commands = [
        AuditedCommand(**row)
        for row in CommandAudit.objects.filter(
            telephony_session_id=telephony_session_id
        )
        .order_by("requested_at", "id")
        .values(
            "username",
            "action",
            "party_id",
            "params",
            "outcome",
            "http_status",
            "error_code",
            "message",
            at=F("requested_at"),
        )
    ]
    if record is None and not events and not commands:
        return None
    ext_ids = {
        x
        for e in events
        for p in e.call.get("parties") or []
        for x in (p.get("extension_id"), own_end(p).get("extension_id"))
        if x
    }
    directory = {
        ext_id: ExtensionName(number=number, name=name)
        for ext_id, number, name in Extension.objects.filter(
            extension_id__in=ext_ids
        ).values_list("extension_id", "extension_number", "name")
    }
    ended = (record is not None and record.ended) or (
        bool(events) and events[-1].kind == "ended"
    )
    return CallPage(
        telephony_session_id=telephony_session_id,
        record=record,
        in_progress=not ended,
        parties=list(record.parties.all()) if record is not None else [],
        latest=events[-1].call if events else None,
        timeline=timeline_entries(
            events,
            commands,
            directory,
            final_reason=record.final_reason if record is not None else "",
        ),
    )
