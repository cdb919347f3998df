"""The session list's order revision and its anchors (models.SessionListAnchor), kept by triggers.

Every statement that adds or removes a session, or changes its uploaded_at or
id, moves the revision and stamps when (an upsert, so a flushed table comes
back on the next write), and empties the anchors, in its own transaction: an
anchor of an older revision is never read, and the few a rebuild racing a
write may leave behind go with the next write.
"""

from django.db import migrations, models

TABLE = "sessions_admin_sessionfile"
REVISION = "sessions_admin_sessionlistrevision"
ANCHORS = "sessions_admin_sessionlistanchor"



def _move(now):
    """SQL that moves the revision, stamped `now` (Unix seconds of the database's clock), and drops the anchors."""
    return (
        f"INSERT INTO {REVISION} (id, revision, moved_at) VALUES (1, 1, {now}) ON CONFLICT (id) DO UPDATE "
        f"SET revision = {REVISION}.revision + 1, moved_at = excluded.moved_at; DELETE FROM {ANCHORS};"
    )


SQLITE_MOVE = _move("CAST(strftime('%s', 'now') AS INTEGER)")

SQLITE_CREATE = [
    f"CREATE TRIGGER sessions_order_insert AFTER INSERT ON {TABLE} BEGIN {SQLITE_MOVE} END",
    f"CREATE TRIGGER sessions_order_delete AFTER DELETE ON {TABLE} BEGIN {SQLITE_MOVE} END",
    f"""CREATE TRIGGER sessions_order_update AFTER UPDATE OF uploaded_at, id ON {TABLE}
        WHEN OLD.uploaded_at IS NOT NEW.uploaded_at OR OLD.id IS NOT NEW.id BEGIN {SQLITE_MOVE} END""",
]
SQLITE_DROP = [f"DROP TRIGGER IF EXISTS sessions_order_{kind}" for kind in ("insert", "delete", "update")]

# Once per statement over its transition tables, as the count triggers (0005) are, and only when a row of
# the list moved: a status update of many rows leaves the anchors standing.
POSTGRESQL_CREATE = [
    f"""CREATE FUNCTION sessions_order_move() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE
        moved boolean;
    BEGIN
        IF TG_OP = 'INSERT' THEN
            moved := EXISTS (SELECT 1 FROM new_rows);
        ELSIF TG_OP = 'DELETE' THEN
            moved := EXISTS (SELECT 1 FROM old_rows);
        ELSE
            moved := EXISTS (SELECT 1 FROM old_rows o WHERE NOT EXISTS (
                SELECT 1 FROM new_rows n WHERE n.id = o.id AND n.uploaded_at IS NOT DISTINCT FROM o.uploaded_at));
        END IF;
        IF moved THEN
            {_move("CAST(FLOOR(EXTRACT(EPOCH FROM clock_timestamp())) AS bigint)")}
        END IF;
        RETURN NULL;
    END $$""",
    f"""CREATE TRIGGER sessions_order_insert AFTER INSERT ON {TABLE}
        REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION sessions_order_move()""",
    f"""CREATE TRIGGER sessions_order_delete AFTER DELETE ON {TABLE}
        REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION sessions_order_move()""",
    f"""CREATE TRIGGER sessions_order_update AFTER UPDATE ON {TABLE}
        REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT
        EXECUTE FUNCTION sessions_order_move()""",
]
POSTGRESQL_DROP = [
    *(f"DROP TRIGGER IF EXISTS sessions_order_{kind} ON {TABLE}" for kind in ("insert", "delete", "update")),
    "DROP FUNCTION IF EXISTS sessions_order_move()",
]


def _run(statements_by_vendor):
    def run(apps, schema_editor):
        statements = statements_by_vendor.get(schema_editor.connection.vendor)
        if statements is None:
            raise RuntimeError(f"no session order triggers for {schema_editor.connection.vendor}")
        for statement in statements:
            schema_editor.execute(statement, params=None)

    return run


class Migration(migrations.Migration):

    dependencies = [
        ('sessions_admin', '0006_lease'),
    ]

    operations = [
        migrations.CreateModel(
            name='SessionListRevision',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('revision', models.BigIntegerField(default=0)),
                ('moved_at', models.BigIntegerField(default=0)),
            ],
        ),
        migrations.CreateModel(
            name='SessionListAnchor',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('revision', models.BigIntegerField()),
                ('position', models.BigIntegerField()),
                ('uploaded_at', models.DateTimeField()),
                ('session_id', models.BigIntegerField()),
            ],
            options={
                'constraints': [models.UniqueConstraint(fields=('revision', 'position'), name='sessions_list_anchor_unique')],
            },
        ),
        migrations.RunPython(
            _run({"sqlite": SQLITE_CREATE, "postgresql": POSTGRESQL_CREATE}),
            _run({"sqlite": SQLITE_DROP, "postgresql": POSTGRESQL_DROP}),
        ),
    ]
