"""The roles: groups Viewer, Supervisor and Administrator (docs/security.md
"Roles"). Holders of the old single permission `control_calls` become
Supervisors, and that permission goes; a user with no role sees no floor.

The roles themselves are telephony/roles.py (a group edited in the admin
afterwards stays as edited)."""

from typing import Any

from django.contrib.auth.management import create_permissions
from django.db import migrations

from telephony.roles import create_missing_roles


def create_roles(apps: Any, schema_editor: Any) -> None:
    # Permissions are made after all migrations (post_migrate); make this
    # app's, auth's and sessions' now so the groups can hold them.
    # A migration's app configs are stubs: mark them as having models.
    for label in ("auth", "sessions", "telephony"):
        config = apps.get_app_config(label)
        config.models_module = True
        create_permissions(config, apps=apps, verbosity=0)
        config.models_module = None
    group_model = apps.get_model("auth", "Group")
    permission_model = apps.get_model("auth", "Permission")
    create_missing_roles(group_model, permission_model)
    old = permission_model.objects.filter(
        codename="control_calls", content_type__app_label="telephony"
    ).first()
    if old is None:
        return
    supervisor = group_model.objects.get(name="Supervisor")
    users = apps.get_model("auth", "User")
    holders = users.objects.filter(user_permissions=old) | users.objects.filter(
        groups__permissions=old
    )
    for user in holders.distinct():
        user.groups.add(supervisor)
    old.delete()


class Migration(migrations.Migration):
    dependencies = [
        ("telephony", "0006_roles_and_complete_audit"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("sessions", "0001_initial"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(create_roles, migrations.RunPython.noop)]
