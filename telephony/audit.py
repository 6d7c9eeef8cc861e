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
