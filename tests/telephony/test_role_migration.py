"""Upgrading an installation from the one permission `control_calls` to
the roles (telephony/migrations/0006, 0007): whoever could act on calls
becomes a Supervisor, the old audit rows keep their user, and the old
permission is gone."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

AUTH = [
    ("auth", "0012_alter_user_first_name_max_length"),
    ("contenttypes", "0002_remove_content_type_name"),
]
BEFORE = [("telephony", "0005_queue_members"), *AUTH]
AFTER = [("telephony", "0007_roles"), *AUTH]


@pytest.mark.django_db(transaction=True)
def test_control_calls_holders_become_supervisors_and_audit_rows_keep_their_user():
    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE)
    old = executor.loader.project_state(BEFORE).apps
    users = old.get_model("auth", "User")
    group = old.get_model("auth", "Group")
    permission = old.get_model("auth", "Permission")
    content_type = old.get_model("contenttypes", "ContentType")
    audit = old.get_model("telephony", "CommandAudit")
    control, _ = permission.objects.get_or_create(
        codename="control_calls",
        content_type=content_type.objects.get_or_create(
            app_label="telephony", model="commandaudit"
        )[0],
        defaults={"name": "Can hold, record and end live calls"},
    )
    direct = users.objects.create(username="ann")
    direct.user_permissions.add(control)
    team = group.objects.create(name="Night shift")
    team.permissions.add(control)
    by_group = users.objects.create(username="ben")
    by_group.groups.add(team)
    users.objects.create(username="cy")  # could only look: gets no role
    audit.objects.create(
        user="ann", action="hold", telephony_session_id="s-1", party_id="p-1",
        outcome="accepted",
    )  # fmt: skip

    executor = MigrationExecutor(connection)
    executor.migrate(AFTER)
    try:
        check_upgrade(executor.loader.project_state(AFTER).apps)
    finally:  # every later migration again, for the tests after this one
        executor = MigrationExecutor(connection)
        executor.migrate(executor.loader.graph.leaf_nodes())
    from django.contrib.auth.models import User

    assert User.objects.get(username="ann").has_perm("telephony.end_calls")
    assert not User.objects.get(username="cy").has_perm("telephony.view_floor")


def check_upgrade(apps: Any) -> None:
    """The state right after the roles' migration (historical models)."""
    users = apps.get_model("auth", "User")
    permission = apps.get_model("auth", "Permission")
    audit = apps.get_model("telephony", "CommandAudit")
    roles = {
        u.username: sorted(u.groups.values_list("name", flat=True))
        for u in users.objects.all()
    }
    assert roles == {
        "ann": ["Supervisor"],
        "ben": ["Night shift", "Supervisor"],
        "cy": [],
    }
    assert not permission.objects.filter(codename="control_calls").exists()
    row = audit.objects.get()
    assert (row.username, row.user.username, row.params) == ("ann", "ann", {})
