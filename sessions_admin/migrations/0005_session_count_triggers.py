"""Triggers that keep SessionCount equal to the session table's counts by status, library, dc_id and api_id.

Database triggers rather than code in the services: the table is written by
the services, the admin site's bulk actions, `sync_sessions` and raw
QuerySet updates, and a trigger sees every one of them in the same
transaction. On PostgreSQL the counter rows are locked in one order first,
so two transactions moving counts in opposite directions cannot deadlock,
and the table is tuned for its update churn (fillfactor, autovacuum).
"""

from django.db import migrations

TABLE = "sessions_admin_sessionfile"
COUNTS = "sessions_admin_sessioncount"
DIMENSIONS = ("status", "library", "dc_id", "api_id")


def _values(row):
    """SQL (dimension, value) pairs of `row` (NEW or OLD), in the locking order."""
    return (
        f"('api_id', COALESCE(CAST({row}.api_id AS TEXT), '')), ('dc_id', CAST({row}.dc_id AS TEXT)), "
        f"('library', {row}.library), ('status', {row}.status)"
    )


def _changed():
    return " OR ".join(f"OLD.{column} IS NOT NEW.{column}" for column in DIMENSIONS)


SQLITE_CREATE = [
    f"""CREATE TRIGGER sessions_count_insert AFTER INSERT ON {TABLE} BEGIN
        INSERT OR IGNORE INTO {COUNTS} (dimension, value, count) SELECT column1, column2, 0 FROM (VALUES {_values("NEW")});
        UPDATE {COUNTS} SET count = count + 1 WHERE (dimension, value) IN (VALUES {_values("NEW")});
    END""",
    f"""CREATE TRIGGER sessions_count_delete AFTER DELETE ON {TABLE} BEGIN
        UPDATE {COUNTS} SET count = count - 1 WHERE (dimension, value) IN (VALUES {_values("OLD")});
    END""",
    f"""CREATE TRIGGER sessions_count_update AFTER UPDATE ON {TABLE} WHEN {_changed()} BEGIN
        UPDATE {COUNTS} SET count = count - 1 WHERE (dimension, value) IN (VALUES {_values("OLD")});
        INSERT OR IGNORE INTO {COUNTS} (dimension, value, count) SELECT column1, column2, 0 FROM (VALUES {_values("NEW")});
        UPDATE {COUNTS} SET count = count + 1 WHERE (dimension, value) IN (VALUES {_values("NEW")});
    END""",
]
SQLITE_DROP = [f"DROP TRIGGER IF EXISTS sessions_count_{kind}" for kind in ("insert", "delete", "update")]

POSTGRESQL_CREATE = [
    # Every session write updates a few of these ~50 rows: room on each page for HOT updates (pruned
    # without a VACUUM), and autovacuum after a few hundred dead rows, not after 20 % of a tiny table.
    f"""ALTER TABLE {COUNTS} SET (fillfactor = 50, autovacuum_vacuum_scale_factor = 0,
        autovacuum_vacuum_threshold = 500, autovacuum_analyze_scale_factor = 0, autovacuum_analyze_threshold = 500)""",
    f"""CREATE FUNCTION sessions_count_apply() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF TG_OP <> 'DELETE' THEN
            INSERT INTO {COUNTS} (dimension, value, count)
                SELECT dimension, value, 0 FROM (VALUES {_values("NEW")}) AS fresh (dimension, value)
                ORDER BY dimension, value
                ON CONFLICT (dimension, value) DO NOTHING;
        END IF;
        IF TG_OP = 'INSERT' THEN
            PERFORM 1 FROM {COUNTS} WHERE (dimension, value) IN ({_values("NEW")})
                ORDER BY dimension, value FOR UPDATE;
        ELSIF TG_OP = 'DELETE' THEN
            PERFORM 1 FROM {COUNTS} WHERE (dimension, value) IN ({_values("OLD")})
                ORDER BY dimension, value FOR UPDATE;
        ELSE
            PERFORM 1 FROM {COUNTS} WHERE (dimension, value) IN ({_values("OLD")}, {_values("NEW")})
                ORDER BY dimension, value FOR UPDATE;
        END IF;
        IF TG_OP <> 'INSERT' THEN
            UPDATE {COUNTS} SET count = count - 1 WHERE (dimension, value) IN ({_values("OLD")});
        END IF;
        IF TG_OP <> 'DELETE' THEN
            UPDATE {COUNTS} SET count = count + 1 WHERE (dimension, value) IN ({_values("NEW")});
        END IF;
        RETURN NULL;
    END $$""",
    f"""CREATE TRIGGER sessions_count_insert_delete AFTER INSERT OR DELETE ON {TABLE}
        FOR EACH ROW EXECUTE FUNCTION sessions_count_apply()""",
    f"""CREATE TRIGGER sessions_count_update AFTER UPDATE ON {TABLE}
        FOR EACH ROW WHEN ({_changed().replace(" IS NOT ", " IS DISTINCT FROM ")})
        EXECUTE FUNCTION sessions_count_apply()""",
]
POSTGRESQL_DROP = [
    f"DROP TRIGGER IF EXISTS sessions_count_update ON {TABLE}",
    f"DROP TRIGGER IF EXISTS sessions_count_insert_delete ON {TABLE}",
    "DROP FUNCTION IF EXISTS sessions_count_apply()",
]

FILL = [
    f"DELETE FROM {COUNTS}",
    *(
        f"INSERT INTO {COUNTS} (dimension, value, count) SELECT '{dimension}', "
        f"COALESCE(CAST({dimension} AS TEXT), ''), COUNT(*) FROM {TABLE} GROUP BY {dimension}"
        for dimension in DIMENSIONS
    ),
]


def _run(statements_by_vendor):
    def run(apps, schema_editor):
        statements = statements_by_vendor.get(schema_editor.connection.vendor)
        if statements is None:
            raise RuntimeError(f"no session count triggers for {schema_editor.connection.vendor}")
        for statement in statements:
            schema_editor.execute(statement, params=None)

    return run


class Migration(migrations.Migration):
    dependencies = [("sessions_admin", "0004_account_fields_status_ledger")]

    operations = [
        migrations.RunPython(
            _run({"sqlite": SQLITE_CREATE + FILL, "postgresql": POSTGRESQL_CREATE + FILL}),
            _run({"sqlite": SQLITE_DROP + [f"DELETE FROM {COUNTS}"], "postgresql": POSTGRESQL_DROP + [f"DELETE FROM {COUNTS}"]}),
        )
    ]
