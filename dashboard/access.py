"""Access ends at once: when a user logs out, is deactivated, gets a new
password, or a login session is deleted, their open consoles are closed
within a second, in every dashboard process (the channel layer carries it
to each process's live feed, which closes its own consoles of that user or
session: telephony.broadcast `revoke_access`).

Connected to Django's signals in DashboardConfig.ready(). The handlers run
where Django runs them (a view's or the admin's thread), so they hand the
message to the channel layer with async_to_sync; a failure is logged and
never breaks the logout or the save that caused it.
"""

from __future__ import annotations

import logging
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.contrib.auth import get_user_model
from django.contrib.auth.signals import user_logged_out
from django.contrib.sessions.models import Session
from django.db.models.signals import post_delete, post_save, pre_save

from telephony import broadcast

logger = logging.getLogger("dashboard.access")


def _revoke(reason: str, **whose: Any) -> None:
    layer = get_channel_layer()
    if layer is None:
        return
    try:
        async_to_sync(broadcast.revoke_access)(layer, reason=reason, **whose)
    except Exception:
        logger.exception("could not close the consoles of %s", whose)


def _logged_out(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    key = getattr(getattr(request, "session", None), "session_key", None)
    if key:
        _revoke("You logged out. Log in again to go on.", session_key=key)


def _user_saving(sender: Any, instance: Any, **kwargs: Any) -> None:
    """Remember, before a save, whether the password or activity changes."""
    instance._access_changed = None
    if instance.pk is None:
        return
    fields = kwargs.get("update_fields")
    if fields is not None and not {"password", "is_active"} & set(fields):
        return  # e.g. every login's last_login: no query for those
    before = (
        sender.objects.filter(pk=instance.pk)
        .values_list("password", "is_active")
        .first()
    )
    if before is None:
        return
    if before[1] and not instance.is_active:
        instance._access_changed = "Your account was deactivated."
    elif before[0] != instance.password:
        instance._access_changed = "Your password changed. Log in again to go on."


def _user_saved(sender: Any, instance: Any, created: bool, **kwargs: Any) -> None:
    reason = getattr(instance, "_access_changed", None)
    if reason:
        _revoke(reason, user_id=instance.pk)


def _session_deleted(sender: Any, instance: Any, **kwargs: Any) -> None:
    _revoke(
        "Your login session ended. Log in again to go on.",
        session_key=instance.session_key,
    )


def connect_signals() -> None:
    user = get_user_model()
    user_logged_out.connect(_logged_out, dispatch_uid="access-logged-out")
    pre_save.connect(_user_saving, sender=user, dispatch_uid="access-user-saving")
    post_save.connect(_user_saved, sender=user, dispatch_uid="access-user-saved")
    post_delete.connect(_session_deleted, sender=Session, dispatch_uid="access-session")
