"""All database writes for telephony; sync functions, called by the worker
through `database_sync_to_async`. No network I/O and no broadcasting here."""

from __future__ import annotations

import json
import logging
from collections.abc import Collection, Mapping, Sequence
from datetime import datetime
from typing import Any, TypedDict, TypeVar

from django.db import connection, models, transaction

from telephony.models import (
    CallEvent,
    CallRecord,
    CommandAudit,
    Extension,
    FloorMark,
    PartyRecord,
    QueueMember,
    QueueSettings,
)

logger = logging.getLogger("telephony.history.services")

JsonDict = dict[str, Any]
# Written on conflict (every column but the key): the rows were merged with
# what the table already held before the upsert.
# Copied from CallFacts as they come; the others are merged.
CALL_INPUTS = frozenset(
    {"session_id", "origin", "direction", "last_seen_at", "ended", "result"}
    | {"final_reason", "agent_extension_id", "agent_name", "agent_number"}
    | {"customer_number", "customer_name", "queue_extension_id"}
)
# Kept from the stored row when the news leaves them blank.
KEPT_FIELDS = (
    *("session_id", "origin", "direction", "agent_extension_id", "agent_name"),
    *("agent_number", "customer_number", "customer_name", "queue_name"),
    "queue_extension_id",
)
CALL_FIELDS = [
    f.name
    for f in CallRecord._meta.concrete_fields
    if f.name not in ("id", "telephony_session_id")
]
PARTY_FIELDS = [
    f.name
    for f in PartyRecord._meta.concrete_fields
    if f.name not in ("id", "call", "party_id")
]


class PartyFacts(TypedDict):
    """One party as HistoryWriter saw it: PartyRecord's fields by name."""

    party_id: str
    extension_id: str
    direction: str
    from_number: str
    from_name: str
    to_number: str
    to_name: str
    first_status: str
    first_seen_at: datetime | None
    status: str
    reason: str
    answered_at: datetime | None
    ended_at: datetime | None
    muted_ever: bool
    missed_call: bool
    queue_call: bool


class CallFacts(TypedDict):
    """One session's news for `call_history_apply` (built by HistoryWriter).

    Mostly CallRecord's fields by name. Hold figures are what accumulated
    since the last successful write, so a writer restarted mid-call adds to
    the stored totals instead of replacing them. `result` is meaningful only
    when `ended`. `extension_ids`: every party's, for the directory lookup.
    """

    telephony_session_id: str
    session_id: str
    origin: str
    direction: str
    started_at: datetime
    answered_at: datetime | None
    last_seen_at: datetime
    ended: bool
    result: str
    final_reason: str
    agent_extension_id: str
    agent_name: str
    agent_number: str
    customer_number: str
    customer_name: str
    queue_extension_id: str
    queue_name: str
    hold_seconds_added: float
    holds_added: int
    recordings: list[str]
    extension_ids: list[str]
    parties: list[PartyFacts]


@transaction.atomic
def command_audit_create(
    *,
    username: str,
    action: str,
    telephony_session_id: str,
    party_id: str,
    outcome: str,
    user_id: int | None = None,
    params: dict[str, str] | None = None,
    http_status: int | None = None,
    error_code: str | None = None,
    message: str = "",
    requested_at: datetime | None = None,
) -> CommandAudit:
    """Record a supervisor command (who, to which call, with which
    parameters) and RingCentral's answer; `requested_at`: when it was
    asked (default now; a row written late, after a database outage,
    keeps its own time)."""
    extra = {} if requested_at is None else {"requested_at": requested_at}
    return CommandAudit.objects.create(
        **extra,
        user_id=user_id,
        username=username[:150],
        action=action,
        telephony_session_id=telephony_session_id,
        party_id=party_id,
        params=dict(params or {}),
        outcome=outcome,
        http_status=http_status,
        error_code=error_code or "",
        message=message[:500],
    )


_Row = TypeVar("_Row", bound=models.Model)


def fit_text(row: _Row) -> _Row:
    """Cut every text value to its column: RingCentral's numbers, names and
    SIP addresses have no documented maximum, and one value too long for
    PostgreSQL would fail the whole batch again and again."""
    for field in row._meta.concrete_fields:
        limit = getattr(field, "max_length", None)
        value = getattr(row, field.attname)
        if limit and isinstance(value, str) and len(value) > limit:
            setattr(row, field.attname, value[:limit])
    return row


@transaction.atomic
def call_history_apply(*, batch: Sequence[CallFacts]) -> list[CallRecord]:
    """Upsert a batch of sessions and their parties in one transaction.

    Stored rows are merged, not overwritten: the earliest start and answer
    win, hold figures add up, recordings accumulate, names never blank out,
    and a row already ended stays ended unless the news is newer than its
    end. The directory supplies agent names, extension numbers and queues.
    """
    calls = {facts["telephony_session_id"]: facts for facts in batch}
    if not calls:
        return []
    old = {
        r.telephony_session_id: r
        for r in CallRecord.objects.filter(telephony_session_id__in=calls)
    }
    ext_ids = {x for facts in calls.values() for x in facts["extension_ids"]}
    directory = {
        x.extension_id: x for x in Extension.objects.filter(extension_id__in=ext_ids)
    }
    CallRecord.objects.bulk_create(
        [
            fit_text(_call_row(facts, old.get(sid), directory))
            for sid, facts in calls.items()
        ],
        update_conflicts=True,
        unique_fields=["telephony_session_id"],
        update_fields=CALL_FIELDS,
    )
    saved = CallRecord.objects.in_bulk(list(calls), field_name="telephony_session_id")
    old_parties = {
        (p.call_id, p.party_id): p
        for p in PartyRecord.objects.filter(call__in=saved.values())
    }
    PartyRecord.objects.bulk_create(
        [
            fit_text(_party_row(pk, p, old_parties.get((pk, p["party_id"]))))
            for sid, facts in calls.items()
            for pk in (saved[sid].pk,)
            for p in facts["parties"]
        ],
        update_conflicts=True,
        unique_fields=["call", "party_id"],
        update_fields=PARTY_FIELDS,
    )
    return list(saved.values())


@transaction.atomic
def call_history_close_missing(
    *, live_ids: Collection[str], now: datetime, seen_before: datetime | None = None
) -> int:
    """End every open row not in `live_ids` (the calls live after a resync)
    at `now` with result "lost"; return how many. Durations stay as last
    seen: the real end is unknown. `seen_before` (the resync's start) spares
    calls that began while the resync ran."""
    rows = CallRecord.objects.filter(ended=False)
    if seen_before is not None:
        rows = rows.filter(last_seen_at__lt=seen_before)
    return rows.exclude(telephony_session_id__in=list(live_ids)).update(
        ended=True, ended_at=now, result=CallRecord.Result.LOST
    )


@transaction.atomic
def extension_directory_replace(
    *, records: Sequence[Mapping[str, Any]]
) -> dict[str, int]:
    """Make the directory RingCentral's extension list (docs/ringcentral.md 8).

    `records` are the list's raw records (integer ids are made strings).
    Extensions no longer listed are deleted, unless the list is empty: an
    account always has users, so an empty list is taken as a bad read.
    """
    rows = {
        str(r["id"]): Extension(
            extension_id=str(r["id"]),
            extension_number=str(r.get("extensionNumber") or ""),
            name=_text(r.get("name"), 200),
            type=_text(r.get("type"), 32),
            status=_text(r.get("status"), 32),
            email=_text((r.get("contact") or {}).get("email"), 254),
        )
        for r in records
    }
    if not rows:
        logger.warning("empty extension list: directory left unchanged")
        return {"stored": 0, "removed": 0}
    Extension.objects.bulk_create(
        rows.values(),
        update_conflicts=True,
        unique_fields=["extension_id"],
        update_fields=[
            "extension_number",
            "name",
            "type",
            "status",
            "email",
            "updated_at",
        ],
    )
    removed, _ = Extension.objects.exclude(extension_id__in=list(rows)).delete()
    return {"stored": len(rows), "removed": removed}


@transaction.atomic
def queue_members_replace(*, members: Mapping[str, Sequence[str]]) -> dict[str, int]:
    """Make the stored call-queue membership RingCentral's member lists
    (docs/ringcentral.md 8.6): `members` maps each queue's extension id to
    its members' extension ids. Pairs no longer listed are deleted, those
    of queues absent from `members` included (an account may have no
    queues, so an empty mapping empties the table); the others are kept as
    they are, so an unchanged membership writes nothing."""
    wanted = {(str(q), str(m)) for q, ids in members.items() for m in ids}
    stored = {
        (q, m): pk
        for pk, q, m in QueueMember.objects.values_list(
            "pk", "queue_extension_id", "member_extension_id"
        )
    }
    stale = [pk for pair, pk in stored.items() if pair not in wanted]
    for start in range(0, len(stale), 500):  # bounded IN lists
        QueueMember.objects.filter(pk__in=stale[start : start + 500]).delete()
    QueueMember.objects.bulk_create(
        [
            QueueMember(queue_extension_id=q, member_extension_id=m)
            for q, m in sorted(wanted - stored.keys())
        ],
        batch_size=500,
    )
    return {
        "stored": len(wanted),
        "added": len(wanted - stored.keys()),
        "removed": len(stale),
    }


def extension_records(*, type: str | None = None) -> list[dict[str, Any]]:
    """Directory rows in the extension list's shape (id, extensionNumber,
    name, type), optionally of one type."""
    rows = Extension.objects.all()
    if type is not None:
        rows = rows.filter(type=type)
    return [
        {"id": x, "extensionNumber": n, "name": name, "type": t}
        for x, n, name, t in rows.values_list(
            "extension_id", "extension_number", "name", "type"
        )
    ]


# --- rows -----------------------------------------------------------------

_UNANSWERED = frozenset({"missed", "abandoned", "no_answer", "voicemail"})


def _call_row(
    facts: CallFacts, old: CallRecord | None, directory: Mapping[str, Extension]
) -> CallRecord:
    was = _fields(old)
    row = CallRecord(
        **{k: v for k, v in facts.items() if k in CALL_INPUTS},
        telephony_session_id=facts["telephony_session_id"],
        started_at=_earliest(facts["started_at"], was.get("started_at")),
        answered_at=_earliest(facts["answered_at"], was.get("answered_at")),
        ended_at=facts["last_seen_at"] if facts["ended"] else None,
        hold_seconds=was.get("hold_seconds", 0.0) + facts["hold_seconds_added"],
        hold_count=was.get("hold_count", 0) + facts["holds_added"],
        recordings=list(dict.fromkeys(was.get("recordings", []) + facts["recordings"])),
    )
    if not row.ended:
        row.result = CallRecord.Result.IN_PROGRESS
    elif row.answered_at is not None and row.result in _UNANSWERED:
        row.result = CallRecord.Result.ANSWERED  # answered before a restart
    if (known := directory.get(row.agent_extension_id)) is not None:
        row.agent_name = known.name or row.agent_name
        row.agent_number = known.extension_number or row.agent_number
    queues = [
        directory[x].name
        for x in facts["extension_ids"]
        if x in directory and directory[x].type == "Department"
    ]
    row.queue_name = facts["queue_name"] or (queues[0] if queues else "")
    for name in KEPT_FIELDS:  # never blank out what was known
        setattr(row, name, getattr(row, name) or was.get(name, ""))
    if was.get("ended") and not row.ended and row.last_seen_at <= was["ended_at"]:
        # Older news than the recorded end (e.g. a row closed as lost).
        for name in ("ended", "ended_at", "result", "final_reason"):
            setattr(row, name, was[name])
    _durations(row)
    return row


def _durations(row: CallRecord) -> None:
    until = row.ended_at or row.last_seen_at
    ring = ((row.answered_at or until) - row.started_at).total_seconds()
    row.ring_seconds = max(0.0, round(ring, 3))
    row.talk_seconds = 0.0
    if row.answered_at is not None:
        talk = (until - row.answered_at).total_seconds() - row.hold_seconds
        row.talk_seconds = max(0.0, round(talk, 3))
    row.hold_seconds = round(row.hold_seconds, 3)


def _party_row(call_pk: int, facts: PartyFacts, old: PartyRecord | None) -> PartyRecord:
    row = PartyRecord(call_id=call_pk, **facts)
    if old is None:
        return row
    row.first_status = old.first_status or row.first_status
    row.first_seen_at = _earliest(row.first_seen_at, old.first_seen_at)
    row.answered_at = _earliest(row.answered_at, old.answered_at)
    row.ended_at = row.ended_at or old.ended_at
    row.extension_id = row.extension_id or old.extension_id
    for flag in ("muted_ever", "missed_call", "queue_call"):
        setattr(row, flag, getattr(row, flag) or getattr(old, flag))
    return row


def _fields(row: CallRecord | None) -> dict[str, Any]:
    """A stored row's values by field name; {} for a new row."""
    if row is None:
        return {}
    return {f.attname: getattr(row, f.attname) for f in row._meta.concrete_fields}


def _earliest(*moments: datetime | None) -> Any:
    return min((m for m in moments if m is not None), default=None)


def _text(value: Any, limit: int) -> str:
    return str(value)[:limit] if value else ""


def queue_figures_today(
    *, since: datetime, settings: Mapping[str, tuple[int, int]]
) -> list[dict[str, Any]]:
    """Each call queue's figures since `since` (the start of today), from the
    call history: offered, answered, abandoned, answered within the queue's
    service-level wait, average wait and handle time. `settings` maps a
    queue's extension id ("" for the defaults) to (service-level seconds,
    target percent). A call's wait is from its start to its answer (IVR and
    queue time included), its handle time talk plus hold."""
    rows = CallRecord.objects.filter(started_at__gte=since).exclude(
        queue_extension_id=""
    )
    figures: dict[str, dict[str, Any]] = {}
    for queue, name, result, answered, ring, talk, hold, ended in rows.values_list(
        "queue_extension_id",
        "queue_name",
        "result",
        "answered_at",
        "ring_seconds",
        "talk_seconds",
        "hold_seconds",
        "ended",
    ):
        seconds, target = settings.get(queue, settings.get("", (20, 80)))
        entry = figures.setdefault(queue, _queue_entry(queue, name, seconds, target))
        entry["offered"] += 1
        if answered is not None:
            entry["answered"] += 1
            entry["_waits"].append(ring)
            entry["within_service_level"] += ring <= seconds
            if ended:
                entry["_handles"].append(talk + hold)
        elif result in ("abandoned", "missed"):
            entry["abandoned"] += 1
    for entry in figures.values():
        waits, handles = entry.pop("_waits"), entry.pop("_handles")
        entry["average_wait"] = round(sum(waits) / len(waits), 1) if waits else None
        entry["average_handle"] = (
            round(sum(handles) / len(handles), 1) if handles else None
        )
    return sorted(figures.values(), key=lambda e: (e["name"], e["extension_id"]))


def _queue_entry(queue: str, name: str, seconds: int, target: int) -> dict[str, Any]:
    return {
        "extension_id": queue,
        "name": name,
        "offered": 0,
        "answered": 0,
        "abandoned": 0,
        "within_service_level": 0,
        "service_level_seconds": seconds,
        "service_level_target": target,
        "_waits": [],
        "_handles": [],
    }


def queue_settings_rows() -> list[dict[str, Any]]:
    """Every QueueSettings row as a dict (the worker's thresholds)."""
    return [dict(row) for row in QueueSettings.objects.values()]


# --- the call journal (telephony.history.journal) ------------------------------


class JournalEntry(TypedDict):
    at: datetime
    session_id: str
    kind: str
    call: Any  # CallView


def call_events_append(*, entries: Sequence[JournalEntry]) -> list[int]:
    """Store published changes in order; their ids, in the same order."""
    if not entries:
        return []
    if connection.vendor == "postgresql":
        return _call_events_copy(entries)
    rows = CallEvent.objects.bulk_create(
        [
            CallEvent(
                at=entry["at"],
                telephony_session_id=entry["session_id"][:100],
                kind=entry["kind"],
                call=entry["call"],
            )
            for entry in entries
        ]
    )
    # SQLite (3.35 and later) returns the new rows' ids.
    return [row.pk for row in rows]


@transaction.atomic
def _call_events_copy(entries: Sequence[JournalEntry]) -> list[int]:
    """PostgreSQL: the ids drawn from the table's sequence, then the rows
    by COPY. `bulk_create` quoted every row's JSON into one array literal
    in Python (Django's UNNEST insert, psycopg's client-side binding): ~38 ms
    of CPU for 300 changes, in the worker's process, every second, against
    ~4 ms for COPY (measured). That CPU held the GIL from the event loop."""
    table = connection.ops.quote_name(CallEvent._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT nextval(pg_get_serial_sequence(%s, 'id')) "
            "FROM generate_series(1, %s)",
            [CallEvent._meta.db_table, len(entries)],
        )
        ids = sorted(row[0] for row in cursor.fetchall())
        columns = "id, at, telephony_session_id, kind, call"
        with cursor.cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
            for pk, entry in zip(ids, entries, strict=True):
                copy.write_row(
                    (
                        pk,
                        entry["at"],
                        entry["session_id"][:100],
                        entry["kind"],
                        json.dumps(entry["call"]),
                    )
                )
    return ids


def floor_mark_create(*, at: datetime, events: list[int]) -> FloorMark:
    """Store the live floor at `at` by its calls' latest events."""
    return FloorMark.objects.create(at=at, events=events)


def call_events_last_get(*, session_ids: Sequence[str]) -> dict[str, Any]:
    """Each session's last stored state (CallView) among `session_ids`."""
    latest = (
        CallEvent.objects.filter(telephony_session_id__in=session_ids)
        .values("telephony_session_id")
        .annotate(last=models.Max("pk"))
        .values_list("last", flat=True)
    )
    return {
        row.telephony_session_id: row.call
        for row in CallEvent.objects.filter(pk__in=list(latest), kind="updated")
    }


def history_purge(*, before: datetime, batch: int = 5_000) -> dict[str, int]:
    """Delete the journal, the floor marks and the finished calls older than
    `before`, in short transactions (the live path keeps writing meanwhile).
    The command audit is not history: it is kept (its chain proves it)."""
    counts = {"events": 0, "marks": 0, "calls": 0}
    for key, queryset in (
        ("events", CallEvent.objects.filter(at__lt=before)),
        ("marks", FloorMark.objects.filter(at__lt=before)),
        ("calls", CallRecord.objects.filter(ended=True, last_seen_at__lt=before)),
    ):
        while True:
            ids = list(queryset.values_list("pk", flat=True)[:batch])
            if not ids:
                break
            with transaction.atomic():
                queryset.model.objects.filter(pk__in=ids).delete()
            counts[key] += len(ids)
    return counts
