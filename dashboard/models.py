"""What the dashboard persists: the live call wall's tokens.

A wall (a TV showing the floor, docs/architecture.md "The wall") opens
`/wall/?token=…` without a login. The token is shown once, when an
administrator creates it in the admin; only its SHA-256 digest is kept, so
a copy of the database opens no wall. A token is revocable and may expire;
it opens the wall page and the wall's socket, nothing else
(dashboard.wall_tokens, dashboard.wall).
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime

from django.conf import settings
from django.db import models
from django.utils import timezone

# The wall's panels, in the page's order: the big counts, the longest wait
# and hold, the queues' tiles, the active alerts, the grid of live calls.
PANELS = (
    ("counts", "Counts"),
    ("longest", "Longest wait and hold"),
    ("queues", "Queues"),
    ("alerts", "Alerts"),
    ("calls", "Live calls"),
)


def all_panels() -> list[str]:
    return [name for name, _ in PANELS]


def hash_token(raw: str) -> str:
    """The digest kept for a token (hex SHA-256 of its text). A token has
    256 random bits: no salt or slow hash is needed against guessing."""
    return hashlib.sha256(raw.encode()).hexdigest()


def new_token() -> str:
    """A fresh token: 32 random bytes, URL-safe (43 characters)."""
    return secrets.token_urlsafe(32)


class WallToken(models.Model):
    """One wall's link: what it shows, and whether it still opens."""

    name = models.CharField(
        max_length=100, help_text="Where the wall hangs, e.g. “Sales floor TV”."
    )
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        editable=False,
    )
    expires_at = models.DateTimeField(
        null=True, blank=True, help_text="Blank: the link never expires."
    )
    revoked_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="Set to revoke the link: an open wall goes dark within seconds.",
    )
    queues = models.JSONField(
        default=list,
        blank=True,
        help_text="Call queues (extension ids) the wall shows; none: every call.",
    )
    panels = models.JSONField(default=all_panels, blank=True)
    mask_numbers = models.BooleanField(
        default=True,
        help_text="Customers' numbers show their last four digits only, and "
        "outside callers' names are not sent to the wall.",
    )
    last_seen_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ("name", "pk")
        verbose_name = "wall token"

    def __str__(self) -> str:
        return self.name

    def issue(self) -> str:
        """Give this (unsaved) token a fresh secret; return it, the only
        time it is ever known."""
        raw = new_token()
        self.token_hash = hash_token(raw)
        return raw

    def state(self, now: datetime | None = None) -> str:
        """ "active", "revoked" or "expired"."""
        if self.revoked_at is not None:
            return "revoked"
        now = now or timezone.now()
        if self.expires_at is not None and self.expires_at <= now:
            return "expired"
        return "active"

    @property
    def fingerprint(self) -> str:
        """The digest's first characters: tells tokens apart in the admin,
        reveals nothing that opens a wall."""
        return self.token_hash[:8]
