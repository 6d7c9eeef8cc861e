"""The command audit becomes a hash chain (telephony.audit): every row gets
`prev_hash` and `row_hash`, the rows already written are chained in id
order, and a one-row chain head records the last link (appending locks it).

`requested_at` is now stamped before saving (it is hashed), not by
auto_now_add; the column is unchanged."""

from typing import Any

import django.utils.timezone
from django.db import migrations, models

from telephony.audit import GENESIS, row_digest

BATCH = 1000


def chain_existing_rows(apps: Any, schema_editor: Any) -> None:
    audit = apps.get_model("telephony", "CommandAudit")
    head = apps.get_model("telephony", "AuditChainHead")
    prev_hash, last_id = GENESIS, None
    while True:
        rows = audit.objects.order_by("pk")
        if last_id is not None:
            rows = rows.filter(pk__gt=last_id)
        batch = list(rows[:BATCH])
        if not batch:
            break
        for row in batch:
            row.prev_hash = prev_hash
            row.row_hash = row_digest(row)
            audit.objects.filter(pk=row.pk).update(
                prev_hash=row.prev_hash, row_hash=row.row_hash
            )
            prev_hash, last_id = row.row_hash, row.pk
    head.objects.create(pk=1, last_id=last_id, last_hash=prev_hash)


class Migration(migrations.Migration):
    dependencies = [("telephony", "0007_roles")]

    operations = [
        migrations.CreateModel(
            name="AuditChainHead",
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
                ("last_id", models.BigIntegerField(null=True)),
                ("last_hash", models.CharField(default=GENESIS, max_length=64)),
            ],
            options={"default_permissions": ()},
        ),
        migrations.AddField(
            model_name="commandaudit",
            name="prev_hash",
            field=models.CharField(default="", editable=False, max_length=64),
        ),
        migrations.AddField(
            model_name="commandaudit",
            name="row_hash",
            field=models.CharField(default="", editable=False, max_length=64),
        ),
        migrations.AlterField(
            model_name="commandaudit",
            name="requested_at",
            field=models.DateTimeField(
                db_index=True, default=django.utils.timezone.now, editable=False
            ),
        ),
        migrations.RunPython(chain_existing_rows, migrations.RunPython.noop),
    ]
