"""The session file counter row and the triggers that keep it (SQLite, PostgreSQL)."""

from django.db import migrations, models

SQLITE = [
    "CREATE TRIGGER sessions_file_count_insert AFTER INSERT ON sessions_admin_sessionfile BEGIN"
    " INSERT INTO sessions_admin_sessionfilecount (id, total) VALUES (1, 1)"
    " ON CONFLICT (id) DO UPDATE SET total = total + 1; END",
    "CREATE TRIGGER sessions_file_count_delete AFTER DELETE ON sessions_admin_sessionfile BEGIN"
    " UPDATE sessions_admin_sessionfilecount SET total = total - 1 WHERE id = 1; END",
]
SQLITE_REVERSE = [
    "DROP TRIGGER IF EXISTS sessions_file_count_insert",
    "DROP TRIGGER IF EXISTS sessions_file_count_delete",
]
# Statement-level triggers with transition tables: a bulk insert or delete moves the row once.
POSTGRESQL = [
    """CREATE FUNCTION sessions_file_count_insert() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        INSERT INTO sessions_admin_sessionfilecount (id, total) SELECT 1, count(*) FROM inserted
        ON CONFLICT (id) DO UPDATE SET total = sessions_admin_sessionfilecount.total + EXCLUDED.total;
        RETURN NULL;
    END $$""",
    """CREATE FUNCTION sessions_file_count_delete() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        UPDATE sessions_admin_sessionfilecount SET total = total - (SELECT count(*) FROM deleted) WHERE id = 1;
        RETURN NULL;
    END $$""",
    """CREATE FUNCTION sessions_file_count_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        UPDATE sessions_admin_sessionfilecount SET total = 0 WHERE id = 1;
        RETURN NULL;
    END $$""",
    "CREATE TRIGGER sessions_file_count_insert AFTER INSERT ON sessions_admin_sessionfile"
    " REFERENCING NEW TABLE AS inserted FOR EACH STATEMENT EXECUTE FUNCTION sessions_file_count_insert()",
    "CREATE TRIGGER sessions_file_count_delete AFTER DELETE ON sessions_admin_sessionfile"
    " REFERENCING OLD TABLE AS deleted FOR EACH STATEMENT EXECUTE FUNCTION sessions_file_count_delete()",
    "CREATE TRIGGER sessions_file_count_truncate AFTER TRUNCATE ON sessions_admin_sessionfile"
    " FOR EACH STATEMENT EXECUTE FUNCTION sessions_file_count_truncate()",
]
POSTGRESQL_REVERSE = [
    "DROP TRIGGER IF EXISTS sessions_file_count_insert ON sessions_admin_sessionfile",
    "DROP TRIGGER IF EXISTS sessions_file_count_delete ON sessions_admin_sessionfile",
    "DROP TRIGGER IF EXISTS sessions_file_count_truncate ON sessions_admin_sessionfile",
    "DROP FUNCTION IF EXISTS sessions_file_count_insert()",
    "DROP FUNCTION IF EXISTS sessions_file_count_delete()",
    "DROP FUNCTION IF EXISTS sessions_file_count_truncate()",
]


def _run(statements_by_vendor):
    def run(apps, schema_editor):
        for statement in statements_by_vendor.get(schema_editor.connection.vendor, []):
            schema_editor.execute(statement)

    return run


def count_existing(apps, schema_editor):
    SessionFile = apps.get_model("sessions_admin", "SessionFile")
    SessionFileCount = apps.get_model("sessions_admin", "SessionFileCount")
    SessionFileCount.objects.update_or_create(pk=1, defaults={"total": SessionFile.objects.count()})


class Migration(migrations.Migration):
    dependencies = [
        ("sessions_admin", "0005_session_count_triggers"),
    ]

    operations = [
        migrations.CreateModel(
            name="SessionFileCount",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("total", models.BigIntegerField(default=0)),
            ],
            options={"ordering": ["id"]},
        ),
        migrations.RunPython(
            _run({"sqlite": SQLITE, "postgresql": POSTGRESQL}),
            _run({"sqlite": SQLITE_REVERSE, "postgresql": POSTGRESQL_REVERSE}),
        ),
        migrations.RunPython(count_existing, migrations.RunPython.noop),
    ]
