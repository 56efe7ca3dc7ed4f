"""``reservations_refuse(reason)``: lets one statement refuse, and so undo itself (reservations.statements).

PostgreSQL only; SQLite keeps the step-by-step path and needs no function.
"""

from django.db import migrations

CREATE = """
CREATE OR REPLACE FUNCTION reservations_refuse(reason text) RETURNS boolean
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    RAISE EXCEPTION USING ERRCODE = 'P0001', MESSAGE = reason;
END
$$;
"""
DROP = "DROP FUNCTION IF EXISTS reservations_refuse(text);"


def create(apps, schema_editor) -> None:
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE)


def drop(apps, schema_editor) -> None:
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP)


class Migration(migrations.Migration):
    dependencies = [("reservations", "0003_purged_tally")]

    operations = [migrations.RunPython(create, drop, elidable=False)]
