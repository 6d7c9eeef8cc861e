"""Wall tokens: which wall a link opens, and revocation that reaches open
walls within seconds.

`wall_access(raw)` reads, from the database, what the wall page or the
wall's socket may show for a token: the wall's settings, or a refusal in
plain words with its HTTP status (403: not a wall's link; 410: a link that
was revoked or expired). Only the token's SHA-256 digest is looked up.

When an administrator revokes, edits or deletes a token, a signal tells
every dashboard process's live feed (telephony.broadcast `change_wall`,
after the change is committed), which has its own open walls of that token
read it again: closed when it no longer opens (the page goes dark), else
following the new settings. Connected in DashboardConfig.ready(); the
handlers run in the admin's thread, so they hand the message to the channel
layer with async_to_sync, and a failure is logged, never breaking the save.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction
from django.db.models.signals import post_delete, post_save
from django.utils import timezone

from dashboard.models import PANELS, WallToken, hash_token
from telephony import broadcast

logger = logging.getLogger("dashboard.wall_tokens")

# What a token may look like (secrets.token_urlsafe: 43 characters); any
# other text is refused without a query.
TOKEN_PATTERN = re.compile(r"\A[A-Za-z0-9_-]{20,128}\Z")  # \Z: no final newline

NO_TOKEN = (
    "This page shows a live call wall, and its link has no wall token. "
    "Ask an administrator for the wall's link."
)
UNKNOWN = "This wall's link is not valid; ask an administrator for a new one."
REVOKED = "This wall's link was revoked; ask an administrator for a new one."
EXPIRED = "This wall's link expired; ask an administrator for a new one."
REMOVED = "This wall's link was removed; ask an administrator for a new one."


@dataclass(frozen=True, slots=True)
class WallAccess:
    """What a wall may show now, or why it may not (`refusal`, with the
    HTTP status of the page saying so)."""

    refusal: str | None = None
    status: int = 200
    wall_id: int | None = None
    name: str = ""
    panels: list[str] = field(default_factory=list)
    queues: list[str] = field(default_factory=list)
    masked: bool = True
    expires_at: datetime | None = None

    @property
    def ok(self) -> bool:
        return self.refusal is None

    def settings(self) -> dict[str, Any]:
        """What the page needs to know of its wall (no secret in it)."""
        return {
            "name": self.name,
            "panels": self.panels,
            "queues": self.queues,
            "masked": self.masked,
        }


def _refused(token: WallToken | None, now: datetime) -> WallAccess | None:
    if token is None:
        return WallAccess(UNKNOWN, 403)
    state = token.state(now)
    if state == "revoked":
        return WallAccess(REVOKED, 410, token.pk)
    if state == "expired":
        return WallAccess(EXPIRED, 410, token.pk)
    return None


def wall_access(raw: str | None, *, seen: bool = False) -> WallAccess:
    """Read what a wall opened with token `raw` may show (`seen`: note
    that the wall was seen now). Synchronous: call it in a thread."""
    if not raw:
        return WallAccess(NO_TOKEN, 403)
    if not TOKEN_PATTERN.match(raw):
        return WallAccess(UNKNOWN, 403)
    token = WallToken.objects.filter(token_hash=hash_token(raw)).first()
    return _access(token, seen=seen)


def wall_recheck(wall_id: Any) -> WallAccess:
    """Read an open wall's token again by its id (it was edited, or its
    expiry came)."""
    token = WallToken.objects.filter(pk=wall_id).first()
    if token is None:
        return WallAccess(REMOVED, 410, wall_id)
    return _access(token)


def _access(token: WallToken | None, *, seen: bool = False) -> WallAccess:
    now = timezone.now()
    refusal = _refused(token, now)
    if refusal is not None or token is None:
        return refusal or WallAccess(UNKNOWN, 403)
    if seen:
        WallToken.objects.filter(pk=token.pk).update(last_seen_at=now)
    known = {name for name, _ in PANELS}
    return WallAccess(
        wall_id=token.pk,
        name=token.name,
        panels=[p for p in token.panels or [] if p in known],
        queues=[str(q) for q in token.queues or []],
        masked=token.mask_numbers,
        expires_at=token.expires_at,
    )


def wall_tokens_revoke(tokens: Any) -> int:
    """Revoke these tokens now (each saved: its open walls go dark);
    returns how many were not revoked before."""
    count = 0
    for token in tokens:
        if token.revoked_at is None:
            token.revoked_at = timezone.now()
            token.save(update_fields=["revoked_at"])
            count += 1
    return count


def _changed(wall_id: Any) -> None:
    def send() -> None:
        layer = get_channel_layer()
        if layer is None:
            return
        try:
            async_to_sync(broadcast.change_wall)(layer, wall_id=wall_id)
        except Exception:
            logger.exception("could not tell the open walls of token %s", wall_id)

    transaction.on_commit(send)


def _saved(sender: Any, instance: WallToken, created: bool, **kwargs: Any) -> None:
    fields = kwargs.get("update_fields")
    if created or (fields is not None and set(fields) <= {"last_seen_at"}):
        return  # nothing open yet, or only a visit noted
    _changed(instance.pk)


def _deleted(sender: Any, instance: WallToken, **kwargs: Any) -> None:
    _changed(instance.pk)


def connect_signals() -> None:
    post_save.connect(_saved, sender=WallToken, dispatch_uid="wall-token-saved")
    post_delete.connect(_deleted, sender=WallToken, dispatch_uid="wall-token-deleted")
