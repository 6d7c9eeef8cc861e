"""The audit trail's hash chain: how one row is serialised and hashed.

Pure (no ORM): the model chains new rows with it, migration 0008 chained
the rows written before it, and `manage.py verify_audit` recomputes it.

Each row's hash covers its content and the previous row's hash, so an
edit to any row (or a deleted row) breaks every link after it. Changing
what is hashed here breaks every stored chain: don't, or add a version.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

# The first row's `prev_hash`: no row comes before it.
GENESIS = "0" * 64


class AuditRow(Protocol):
    """What the chain reads of a row (CommandAudit, or its historical model
    in a migration)."""

    id: Any
    requested_at: datetime
    user_id: int | None
    username: str
    action: str
    telephony_session_id: str
    party_id: str
    params: Any
    outcome: str
    http_status: int | None
    error_code: str
    message: str
    prev_hash: str
    row_hash: str


def timestamp(moment: datetime) -> str:
    """UTC, always with microseconds (isoformat() drops zero ones):
    "2026-12-01T10:42:00.000000Z"."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def canonical(row: AuditRow) -> bytes:
    """The row as sorted-key, compact JSON in UTF-8, its `prev_hash`
    included: the bytes its `row_hash` is the SHA-256 of."""
    fields = {
        "id": row.id,
        "requested_at": timestamp(row.requested_at),
        "user_id": row.user_id,
        "username": row.username,
        "action": row.action,
        "telephony_session_id": row.telephony_session_id,
        "party_id": row.party_id,
        "params": row.params,
        "outcome": row.outcome,
        "http_status": row.http_status,
        "error_code": row.error_code,
        "message": row.message,
        "prev_hash": row.prev_hash,
    }
    text = json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return text.encode("utf-8")


def row_digest(row: AuditRow) -> str:
    """The row's `row_hash`: hex SHA-256 of `canonical(row)`."""
    return hashlib.sha256(canonical(row)).hexdigest()


@dataclass(frozen=True)
class ChainReport:
    """What `chain_check` found: `problem` is blank when the chain is
    intact, else it names the first broken row and what is wrong."""

    rows: int
    first: AuditRow | None
    last: AuditRow | None
    problem: str = ""


def chain_check(
    rows: Iterable[AuditRow], *, head: tuple[int | None, str] | None
) -> ChainReport:
    """Walk `rows` in id order (an iterator: memory stays flat) and stop at
    the first broken link. `head` is the chain head's (last id, last hash)
    read before the walk, or None when the table has none."""
    count, first, prev = 0, None, None
    head_seen = head is None or head[0] is None
    for row in rows:
        problem = _link_problem(row, prev)
        if head is not None and row.id == head[0]:
            head_seen = True
            if row.row_hash != head[1]:
                problem = "it is not the last row the chain head recorded"
        if problem:
            return ChainReport(count, first, prev, f"{_name(row)}: {problem}")
        count, first, prev = count + 1, first or row, row
    if not head_seen and head is not None:
        after = f"after {_name(prev)} " if prev else ""
        problem = f"rows {after}are missing: the chain head's last is #{head[0]}"
        return ChainReport(count, first, prev, problem)
    if head is None and prev is not None:
        return ChainReport(count, first, prev, "the chain head is missing")
    return ChainReport(count, first, prev)


def _link_problem(row: AuditRow, prev: AuditRow | None) -> str:
    if row_digest(row) != row.row_hash:
        return "its hash does not match its content (changed after it was written)"
    expected = prev.row_hash if prev else GENESIS
    if row.prev_hash == expected:
        return ""
    if prev is None:
        return "its prev_hash is not the genesis value: rows before it are missing"
    if row.id != prev.id + 1:
        return (
            f"its prev_hash does not match row #{prev.id}: a row is missing "
            f"(a gap in the chain after #{prev.id}, deleted row(s) "
            f"#{prev.id + 1}-#{row.id - 1})"
        )
    return f"its prev_hash does not match the previous row, #{prev.id}"


def _name(row: AuditRow) -> str:
    return f"row #{row.id} ({timestamp(row.requested_at)})"
