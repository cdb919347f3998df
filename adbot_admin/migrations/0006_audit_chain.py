"""The audit hash chain: seq, prev, mac and kid on every row, and the chain head.

Rows written before it are sealed here, once, in id order (the order they were
written in), with AUDIT_CHAIN_KEY: after this migration every row verifies.
"""

import django.utils.timezone
from django.db import migrations, models

CHUNK = 2_000


def seal_existing_rows(apps, schema_editor):
    from adbot_admin.audit_chain import ROW_FIELDS, canonical, mac_of, signing_key

    AuditEvent = apps.get_model("adbot_admin", "AuditEvent")
    AuditChainHead = apps.get_model("adbot_admin", "AuditChainHead")
    events = AuditEvent.objects.using(schema_editor.connection.alias)
    seq, prev, after = 0, "", 0
    if events.exists():
        kid, key = signing_key()  # raises, naming AUDIT_CHAIN_KEY, when unset
        while chunk := list(events.filter(id__gt=after).order_by("id")[:CHUNK]):
            for event in chunk:
                seq += 1
                fields = {name: getattr(event, name) for name in ROW_FIELDS}
                event.seq, event.prev, event.kid = seq, prev, kid
                event.mac = prev = mac_of(key, prev, canonical(seq=seq, kid=kid, **fields))
            events.bulk_update(chunk, ["seq", "prev", "mac", "kid"])
            after = chunk[-1].id
    AuditChainHead.objects.using(schema_editor.connection.alias).create(id=1, seq=seq, mac=prev)


class Migration(migrations.Migration):
    dependencies = [
        ("adbot_admin", "0005_user_session_epoch"),
    ]

    operations = [
        migrations.CreateModel(
            name="AuditChainHead",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("seq", models.BigIntegerField()),
                ("mac", models.CharField(blank=True, max_length=64)),
            ],
            options={"ordering": ["id"]},
        ),
        migrations.AlterField(
            model_name="auditevent",
            name="created_at",
            field=models.DateTimeField(db_index=True, default=django.utils.timezone.now, editable=False),
        ),
        migrations.AddField(model_name="auditevent", name="seq", field=models.BigIntegerField(null=True)),
        migrations.AddField(
            model_name="auditevent",
            name="prev",
            field=models.CharField(blank=True, default="", max_length=64),
            preserve_default=False,
        ),
        migrations.AddField(
            model_name="auditevent",
            name="mac",
            field=models.CharField(default="", max_length=64),
            preserve_default=False,
        ),
        migrations.AddField(
            model_name="auditevent",
            name="kid",
            field=models.CharField(default="", max_length=16),
            preserve_default=False,
        ),
        migrations.RunPython(seal_existing_rows, migrations.RunPython.noop, elidable=False),
        migrations.AlterField(model_name="auditevent", name="seq", field=models.BigIntegerField(unique=True)),
    ]
