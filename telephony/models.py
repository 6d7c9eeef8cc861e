"""What Switchboard persists about telephony: the supervisors' command audit.

Live call state is never stored here: the worker's in-memory model is the
source of truth for what is happening now (telephony.state).
"""

from __future__ import annotations

from django.db import models


class CommandAudit(models.Model):
    """One supervisor command and what RingCentral answered."""

    class Outcome(models.TextChoices):
        ACCEPTED = "accepted"
        REJECTED = "rejected"
        FAILED = "failed"  # RingCentral unreachable or timed out

    requested_at = models.DateTimeField(auto_now_add=True, db_index=True)
    user = models.CharField(max_length=150)
    action = models.CharField(max_length=32)
    telephony_session_id = models.CharField(max_length=100, db_index=True)
    party_id = models.CharField(max_length=100)
    outcome = models.CharField(max_length=16, choices=Outcome.choices)
    http_status = models.PositiveSmallIntegerField(null=True, blank=True)
    error_code = models.CharField(max_length=32, blank=True)
    message = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["-requested_at"]
        permissions = [("control_calls", "Can hold, record and end live calls")]

    def __str__(self) -> str:
        return f"{self.user} {self.action} {self.telephony_session_id}: {self.outcome}"
