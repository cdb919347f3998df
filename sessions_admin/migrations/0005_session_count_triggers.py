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

# Each dimension's value of a row, as the counts store it.
VALUE_EXPRESSIONS = (
    ("api_id", "COALESCE(CAST(api_id AS TEXT), '')"),
    ("dc_id", "CAST(dc_id AS TEXT)"),
    ("library", "library"),
    ("status", "status"),
)


def _delta(*sources):
    """SQL of (dimension, value, delta) summed over transition tables: `sources` are (table, +1 or -1)."""
    moved = " UNION ALL ".join(
        f"SELECT '{dimension}' AS dimension, {expression} AS value, {sign} AS delta FROM {table}"
        for table, sign in sources
        for dimension, expression in VALUE_EXPRESSIONS
    )
    return f"SELECT dimension, value, SUM(delta) AS delta FROM ({moved}) AS moved GROUP BY dimension, value"


def _apply(delta):
    """plpgsql that moves the counts by `delta`: new counter rows first, then every row locked in one order."""
    return f"""
            INSERT INTO {COUNTS} (dimension, value, count)
                SELECT dimension, value, 0 FROM ({delta}) AS d WHERE delta > 0
                ORDER BY dimension, value
                ON CONFLICT (dimension, value) DO NOTHING;
            PERFORM 1 FROM {COUNTS} AS c JOIN ({delta}) AS d USING (dimension, value)
                WHERE d.delta <> 0 ORDER BY c.dimension, c.value FOR UPDATE OF c;
            UPDATE {COUNTS} AS c SET count = c.count + d.delta FROM ({delta}) AS d
                WHERE c.dimension = d.dimension AND c.value = d.value AND d.delta <> 0;"""


POSTGRESQL_CREATE = [
    # Every session write updates a few of these ~50 rows: room on each page for HOT updates (pruned
    # without a VACUUM), and autovacuum after a few hundred dead rows, not after 20 % of a tiny table.
    f"""ALTER TABLE {COUNTS} SET (fillfactor = 50, autovacuum_vacuum_scale_factor = 0,
        autovacuum_vacuum_threshold = 500, autovacuum_analyze_scale_factor = 0, autovacuum_analyze_threshold = 500)""",
    # Once per statement over its transition tables, not once per row: a row trigger makes a statement
    # of n rows update each counter row n times in one transaction, and each update walks all of that
    # row's earlier versions (quadratic: a 100k-row insert ran for minutes).
    f"""CREATE FUNCTION sessions_count_apply() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF TG_OP = 'INSERT' THEN{_apply(_delta(("new_rows", 1)))}
        ELSIF TG_OP = 'DELETE' THEN{_apply(_delta(("old_rows", -1)))}
        ELSE{_apply(_delta(("new_rows", 1), ("old_rows", -1)))}
        END IF;
        RETURN NULL;
    END $$""",
    f"""CREATE TRIGGER sessions_count_insert AFTER INSERT ON {TABLE}
        REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION sessions_count_apply()""",
    f"""CREATE TRIGGER sessions_count_delete AFTER DELETE ON {TABLE}
        REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION sessions_count_apply()""",
    f"""CREATE TRIGGER sessions_count_update AFTER UPDATE ON {TABLE}
        REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT
        EXECUTE FUNCTION sessions_count_apply()""",
]
POSTGRESQL_DROP = [
    *(f"DROP TRIGGER IF EXISTS sessions_count_{kind} ON {TABLE}" for kind in ("insert", "delete", "update")),
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
