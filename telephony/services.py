"""All database writes for telephony; sync functions, called by the worker
through `database_sync_to_async`. No network I/O and no broadcasting here."""

from __future__ import annotations

from django.db import transaction

from telephony.models import CommandAudit


@transaction.atomic
def command_audit_create(
    *,
    user: str,
    action: str,
    telephony_session_id: str,
    party_id: str,
    outcome: str,
    http_status: int | None = None,
    error_code: str | None = None,
    message: str = "",
) -> CommandAudit:
    """Record a supervisor command and RingCentral's answer."""
    return CommandAudit.objects.create(
        user=user,
        action=action,
        telephony_session_id=telephony_session_id,
        party_id=party_id,
        outcome=outcome,
        http_status=http_status,
        error_code=error_code or "",
        message=message[:500],
    )
