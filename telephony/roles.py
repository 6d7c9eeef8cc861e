"""The roles: Django groups holding the live floor's permissions
(telephony.models.FLOOR_PERMISSIONS) and the admin's.

- Viewer: watches the live floor; no buttons.
- Supervisor: watches and acts on calls (hold, mute, record, transfer,
  listen, end), acknowledges alerts, reads the call history in the admin.
- Administrator: a Supervisor who also reads the command audit, edits the
  queues' thresholds, manages users and their roles and ends login sessions
  (the admin also needs "staff status" on the user), and the live call
  wall's links (wall tokens).

A group missing is created with these permissions (migration 0007 at the
first migrate, and after every migrate or test flush); a group that exists
is left as an administrator edited it.
"""

from __future__ import annotations

from typing import Any

FLOOR = ["view_floor"]
ACT = [
    "hold_calls",
    "mute_calls",
    "record_calls",
    "transfer_calls",
    "listen_calls",
    "end_calls",
    "acknowledge_alerts",
]
HISTORY = [
    "view_callrecord",
    "view_partyrecord",
    "view_extension",
    "view_queuemember",
    "view_queuesettings",
]
ADMINISTER = [
    "view_commandaudit",
    "add_queuesettings",
    "change_queuesettings",
    "delete_queuesettings",
    "view_user",
    "add_user",
    "change_user",
    "view_group",
    "change_group",
    "view_session",
    "delete_session",
    # The live call wall's links (dashboard.models.WallToken).
    "view_walltoken",
    "add_walltoken",
    "change_walltoken",
    "delete_walltoken",
]
ROLES = {
    "Viewer": FLOOR,
    "Supervisor": FLOOR + ACT + HISTORY,
    "Administrator": FLOOR + ACT + HISTORY + ADMINISTER,
}
APPS = ("auth", "sessions", "telephony", "dashboard")


def create_missing_roles(group_model: Any, permission_model: Any) -> None:
    """Create each role's group that does not exist, with its permissions
    (the models: the real ones, or a migration's historical ones)."""
    for name, codenames in ROLES.items():
        group, created = group_model.objects.get_or_create(name=name)
        if created:
            group.permissions.add(
                *permission_model.objects.filter(
                    codename__in=codenames, content_type__app_label__in=APPS
                )
            )


def roles_after_migrate(sender: Any, **kwargs: Any) -> None:
    """post_migrate: the roles exist after every migrate and every flush.
    Every app's permissions first: after a flush this app's post_migrate
    comes before the apps after it in INSTALLED_APPS (dashboard's)."""
    from django.apps import apps
    from django.contrib.auth.management import create_permissions
    from django.contrib.auth.models import Group, Permission

    for label in APPS:
        create_permissions(
            apps.get_app_config(label),
            verbosity=0,
            using=kwargs.get("using", "default"),
        )
    create_missing_roles(Group, Permission)
