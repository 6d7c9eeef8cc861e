"""`manage.py verify_audit`: prove the command audit's hash chain intact,
or name its first broken row (exit status 1). Cron can run it
(docs/operations.md "Audit trail")."""

from __future__ import annotations

from collections.abc import Generator
from contextlib import closing
from typing import Any, cast

from django.core.management.base import BaseCommand, CommandError

from telephony.audit import chain_check, timestamp
from telephony.models import AuditChainHead, CommandAudit

# Rows read per round trip: memory stays flat however long the trail.
CHUNK = 2000


class Command(BaseCommand):
    help = "Check the command audit's hash chain; exit 1 naming the first broken row."

    def handle(self, *args: Any, **options: Any) -> None:
        # The head first: rows appended during the walk come after it.
        head = AuditChainHead.objects.filter(pk=1).values_list("last_id", "last_hash")
        start = head.first()
        rows = CommandAudit.objects.order_by("pk").iterator(chunk_size=CHUNK)
        # Closed at once when the walk stops early: PostgreSQL's server-side
        # cursor must not outlive the command (iterator() is a generator).
        with closing(cast(Generator[CommandAudit], rows)):
            report = chain_check(rows, head=start)
        if report.problem:
            raise CommandError(f"Audit trail broken: {report.problem}")
        if report.first is None or report.last is None:
            self.stdout.write("Audit trail intact: 0 rows")
            return
        first, last = report.first, report.last
        self.stdout.write(
            f"Audit trail intact: {report.rows} rows "
            f"(first #{first.id} at {timestamp(first.requested_at)}, "
            f"last #{last.id} at {timestamp(last.requested_at)}, "
            f"hash {last.row_hash})"
        )
