"""The wall tokens' permissions go to the Administrator role (docs/security.md
"Roles"): made here, after telephony's 0007 made the roles, for a group
that exists already (an upgrade, or a fresh database: the group was made
before this app's permissions existed). The roles themselves are
telephony/roles.py."""

from typing import Any

from django.contrib.auth.management import create_permissions
from django.db import migrations

CODENAMES = ["view_walltoken", "add_walltoken", "change_walltoken", "delete_walltoken"]


def grant(apps: Any, schema_editor: Any) -> None:
    # Permissions are made after all migrations (post_migrate); make this
    # app's now. A migration's app configs are stubs: mark them as having
    # models.
    config = apps.get_app_config("dashboard")
    config.models_module = True
    create_permissions(config, apps=apps, verbosity=0)
    config.models_module = None
    group = apps.get_model("auth", "Group").objects.filter(name="Administrator").first()
    if group is None:
        return
    permission_model = apps.get_model("auth", "Permission")
    group.permissions.add(
        *permission_model.objects.filter(
            codename__in=CODENAMES, content_type__app_label="dashboard"
        )
    )


class Migration(migrations.Migration):
    dependencies = [
        ("dashboard", "0001_wall_tokens"),
        ("telephony", "0007_roles"),
    ]

    operations = [migrations.RunPython(grant, migrations.RunPython.noop)]
