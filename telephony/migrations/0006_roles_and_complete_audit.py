"""The live floor's permissions (one per action) and a complete audit row:
the user as a reference plus the username at the time, and the command's
parameters. Existing rows keep their username; their reference is filled
where a user of that name still exists."""

from typing import Any

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

# As telephony.models.FLOOR_PERMISSIONS was when this was written.
FLOOR_PERMISSIONS = (
    ("view_floor", "Can watch the live floor"),
    ("hold_calls", "Can hold and unhold live calls"),
    ("mute_calls", "Can mute and unmute live calls"),
    ("record_calls", "Can start, pause and resume recording live calls"),
    ("transfer_calls", "Can transfer live calls"),
    ("listen_calls", "Can listen in on live calls"),
    ("end_calls", "Can end live calls"),
    ("acknowledge_alerts", "Can acknowledge the floor's alerts"),
)


def link_users(apps: Any, schema_editor: Any) -> None:
    audit = apps.get_model("telephony", "CommandAudit")
    users = apps.get_model(*settings.AUTH_USER_MODEL.split("."))
    ids = dict(users.objects.values_list("username", "pk"))
    for name in audit.objects.values_list("username", flat=True).distinct():
        if name in ids:
            audit.objects.filter(username=name).update(user_id=ids[name])


class Migration(migrations.Migration):
    dependencies = [
        ("telephony", "0005_queue_members"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="Floor",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True,
                        primary_key=True,
                        serialize=False,
                        verbose_name="ID",
                    ),
                ),
            ],
            options={
                "verbose_name": "live floor",
                "permissions": FLOOR_PERMISSIONS,
                "managed": False,
                "default_permissions": (),
            },
        ),
        migrations.AlterModelOptions(
            name="commandaudit",
            options={"ordering": ["-requested_at"]},
        ),
        migrations.RenameField(
            model_name="commandaudit", old_name="user", new_name="username"
        ),
        migrations.AlterField(
            model_name="commandaudit",
            name="username",
            field=models.CharField(max_length=150, verbose_name="username at the time"),
        ),
        migrations.AddField(
            model_name="commandaudit",
            name="user",
            field=models.ForeignKey(
                blank=True,
                db_constraint=False,
                null=True,
                on_delete=django.db.models.deletion.DO_NOTHING,
                related_name="+",
                to=settings.AUTH_USER_MODEL,
            ),
        ),
        migrations.AddField(
            model_name="commandaudit",
            name="params",
            field=models.JSONField(blank=True, default=dict),
        ),
        migrations.RunPython(link_users, migrations.RunPython.noop),
    ]
