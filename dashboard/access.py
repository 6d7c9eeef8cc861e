"""Who may watch the floor and act on it, and access that ends at once.

`console_access` reads, from the database, what a console's user may do
now: watch the floor (`telephony.view_floor`), which actions, acknowledge
alerts, and when the console's login session expires. A console asks it
when it opens, when its session's expiry comes, and when told that its
user's permissions changed.

When a user logs out, is deactivated, gets a new password, or a login
session is deleted, their open consoles are closed within a second, in
every dashboard process (the channel layer carries it to each process's
live feed, which closes its own consoles of that user or session:
telephony.broadcast `revoke_access`). When a user's permissions change (a
role given or taken, a group's permissions edited, superuser status), their
consoles read them again (`change_access`): closed if they may no longer
watch, else their buttons redrawn.

Connected to Django's signals in DashboardConfig.ready(). The handlers run
where Django runs them (a view's or the admin's thread), so they hand the
message to the channel layer with async_to_sync; a failure is logged and
never breaks the logout or the save that caused it.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from importlib import import_module
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.contrib.auth.signals import user_logged_out
from django.contrib.sessions.models import Session
from django.db import transaction
from django.db.models.signals import (
    m2m_changed,
    post_delete,
    post_save,
    pre_delete,
    pre_save,
)
from django.utils import timezone

from telephony import actions, broadcast

logger = logging.getLogger("dashboard.access")

NO_VIEW = (
    "You may not watch the live floor. Ask an administrator for a role "
    "(Viewer or Supervisor)."
)
SESSION_ENDED = "Your login session expired. Log in again to go on."


@dataclass(frozen=True, slots=True)
class ConsoleAccess:
    """What a console's user may do now; `refusal` says why they may not
    watch at all (None: they may)."""

    refusal: str | None
    actions: list[str]
    acknowledge: bool
    expires_at: datetime | None  # the login session's expiry, where known

    @property
    def view(self) -> bool:
        return self.refusal is None

    def may(self, permission: str) -> bool:
        """Whether this access includes `permission` (a floor action's or
        acknowledging alerts), as read."""
        if permission == actions.ACKNOWLEDGE_ALERTS:
            return self.view and self.acknowledge
        return self.view and any(
            actions.ACTIONS[name].permission == permission for name in self.actions
        )


def console_access(user_id: Any, session_key: str | None) -> ConsoleAccess:
    """Read, from the database, what this user may do on a console opened
    with this login session. Synchronous: call it in a thread."""
    user = get_user_model().objects.filter(pk=user_id, is_active=True).first()
    if user is None:
        return ConsoleAccess("Your account was deactivated.", [], False, None)
    expires_at = None
    if session_key is not None:
        found, expires_at = _session_expiry(session_key)
        if not found:
            return ConsoleAccess(SESSION_ENDED, [], False, None)
    if not user.has_perm(actions.VIEW_FLOOR):
        return ConsoleAccess(NO_VIEW, [], False, expires_at)
    return ConsoleAccess(
        None,
        actions.allowed(user.has_perm),
        user.has_perm(actions.ACKNOWLEDGE_ALERTS),
        expires_at,
    )


def _session_expiry(session_key: str) -> tuple[bool, datetime | None]:
    """Whether the session is still valid, and when it expires (None where
    the session backend keeps no row to read it from)."""
    store = import_module(settings.SESSION_ENGINE).SessionStore
    model = getattr(store, "get_model_class", None)
    if model is None:  # a backend without rows (cache, signed cookies)
        return store().exists(session_key), None
    expires = (
        model()
        .objects.filter(session_key=session_key, expire_date__gt=timezone.now())
        .values_list("expire_date", flat=True)
        .first()
    )
    return expires is not None, expires


def _tell(send: Any, failed: str, **message: Any) -> None:
    """Hand one access message to every process's live feed; a failure is
    logged (`failed` says whose consoles) and never raised."""
    layer = get_channel_layer()
    if layer is None:
        return
    try:
        async_to_sync(send)(layer, **message)
    except Exception:
        logger.exception("could not tell %s", failed)


def _revoke(reason: str, **whose: Any) -> None:
    _tell(broadcast.revoke_access, f"the consoles of {whose}", reason=reason, **whose)


def _changed(user_ids: Iterable[Any]) -> None:
    """Tell these users' consoles to read their permissions again, once the
    change is committed (else they could read the old ones)."""
    ids = sorted({str(i) for i in user_ids})
    if ids:
        transaction.on_commit(
            lambda: _tell(
                broadcast.change_access,
                f"the consoles of {len(ids)} users",
                user_ids=ids,
            )
        )


def _members(group_ids: Iterable[Any]) -> list[Any]:
    return list(
        get_user_model()
        .objects.filter(groups__in=list(group_ids))
        .values_list("pk", flat=True)
        .distinct()
    )


# Users affected by a clear() under way (pre_clear -> post_clear), by the
# cleared instance's id.
_clearing: dict[int, list[Any]] = {}


def _roles_changed(
    sender: Any,
    instance: Any,
    action: str,
    reverse: bool,
    model: Any,
    pk_set: set[Any] | None,
    **kwargs: Any,
) -> None:
    """A user's groups or permissions, or a group's permissions, changed."""
    if action not in ("post_add", "post_remove", "pre_clear", "post_clear"):
        return
    users = get_user_model()
    if action == "pre_clear":  # who is affected, before the rows go
        if sender is Group.permissions.through and not reverse:
            _clearing[id(instance)] = _members([instance.pk])
        elif reverse and isinstance(instance, Group):
            _clearing[id(instance)] = list(
                instance.user_set.values_list("pk", flat=True)
            )
        elif reverse and isinstance(instance, Permission):
            _clearing[id(instance)] = _affected_by_permission(instance)
        return
    if action == "post_clear":
        if isinstance(instance, users):
            _changed([instance.pk])
        else:
            _changed(_clearing.pop(id(instance), []))
        return
    if isinstance(instance, users):  # user.groups / user.user_permissions
        _changed([instance.pk])
    elif sender is Group.permissions.through:
        # group.permissions (instance: a group) or permission.group_set
        # (pk_set: groups)
        _changed(_members([instance.pk] if not reverse else pk_set or []))
    elif model is users:  # group.user_set or permission.user_set
        _changed(pk_set or [])


def _affected_by_permission(permission: Any) -> list[Any]:
    direct = permission.user_set.values_list("pk", flat=True)
    groups = permission.group_set.values_list("pk", flat=True)
    return [*direct, *_members(groups)]


def _group_deleting(sender: Any, instance: Any, **kwargs: Any) -> None:
    instance._access_users = _members([instance.pk])


def _group_deleted(sender: Any, instance: Any, **kwargs: Any) -> None:
    _changed(getattr(instance, "_access_users", []))


def _logged_out(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    key = getattr(getattr(request, "session", None), "session_key", None)
    if key:
        _revoke("You logged out. Log in again to go on.", session_key=key)


def _user_saving(sender: Any, instance: Any, **kwargs: Any) -> None:
    """Remember, before a save, whether the password or activity changes."""
    instance._access_changed = None
    instance._access_recheck = False
    if instance.pk is None:
        return
    fields = kwargs.get("update_fields")
    if fields is not None and not {"password", "is_active", "is_superuser"} & set(
        fields
    ):
        return  # e.g. every login's last_login: no query for those
    before = (
        sender.objects.filter(pk=instance.pk)
        .values_list("password", "is_active", "is_superuser")
        .first()
    )
    if before is None:
        return
    if before[1] and not instance.is_active:
        instance._access_changed = "Your account was deactivated."
    elif before[0] != instance.password:
        instance._access_changed = "Your password changed. Log in again to go on."
    elif before[2] != instance.is_superuser:
        instance._access_recheck = True


def _user_saved(sender: Any, instance: Any, created: bool, **kwargs: Any) -> None:
    reason = getattr(instance, "_access_changed", None)
    if reason:
        _revoke(reason, user_id=instance.pk)
    elif getattr(instance, "_access_recheck", False):
        _changed([instance.pk])


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
    for through in (
        user.groups.through,
        user.user_permissions.through,
        Group.permissions.through,
    ):
        m2m_changed.connect(
            _roles_changed, sender=through, dispatch_uid=f"access-roles-{through}"
        )
    pre_delete.connect(_group_deleting, sender=Group, dispatch_uid="access-group-1")
    post_delete.connect(_group_deleted, sender=Group, dispatch_uid="access-group-2")
