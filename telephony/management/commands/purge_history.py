"""`manage.py purge_history`: delete the call journal, the floor marks and
the finished calls older than the retention period
(SWITCHBOARD_RETENTION_DAYS), in short transactions. Cron runs it daily
(docs/operations.md "History and retention"). The command audit is kept:
it is evidence, and its hash chain proves it whole."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from telephony.history.services import history_purge


class Command(BaseCommand):
    help = "Delete call history and the call journal older than the retention period."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument(
            "--days",
            type=float,
            default=None,
            help="Keep this many days (default: SWITCHBOARD_RETENTION_DAYS).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        days = options["days"]
        if days is None:
            days = settings.RETENTION_DAYS
        if days <= 0:
            raise CommandError("The retention must be a positive number of days.")
        before = timezone.now() - timedelta(days=days)
        counts = history_purge(before=before)
        self.stdout.write(
            f"Deleted what is older than {before:%Y-%m-%d %H:%M} UTC ({days:g} days): "
            f"{counts['events']} journal events, {counts['marks']} floor marks, "
            f"{counts['calls']} finished calls."
        )
