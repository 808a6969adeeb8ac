# A config's runs go with it in the database itself: the services delete a config in hand-written SQL
# (common.sql.delete), which Django's Python-side cascade never sees. PostgreSQL: the foreign key
# becomes ON DELETE CASCADE. SQLite cannot alter a constraint: a trigger deletes the runs first.

from django.db import migrations

TRIGGER = "signal_source_run_delete_with_config"


def cascade(apps, schema_editor):
    connection = schema_editor.connection
    runs = apps.get_model("signalsource", "SignalSourceRun")
    configs = apps.get_model("signalsource", "SignalSourceConfig")
    quote = connection.ops.quote_name
    runs_table, configs_table = quote(runs._meta.db_table), quote(configs._meta.db_table)
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            constraints = connection.introspection.get_constraints(cursor, runs._meta.db_table)
        [name] = [
            name
            for name, constraint in constraints.items()
            if constraint["foreign_key"] and constraint["columns"] == ["config_id"]
        ]
        schema_editor.execute(f"ALTER TABLE {runs_table} DROP CONSTRAINT {quote(name)}")
        schema_editor.execute(
            f"ALTER TABLE {runs_table} ADD CONSTRAINT {quote(name)} FOREIGN KEY (config_id) "
            f"REFERENCES {configs_table} (id) ON DELETE CASCADE DEFERRABLE INITIALLY DEFERRED"
        )
    elif connection.vendor == "sqlite":
        schema_editor.execute(
            f"CREATE TRIGGER {TRIGGER} BEFORE DELETE ON {configs_table} "
            f"BEGIN DELETE FROM {runs_table} WHERE config_id = OLD.id; END"
        )
    else:
        raise NotImplementedError(f"No cascade of runs for {connection.vendor}.")


def no_cascade(apps, schema_editor):
    if schema_editor.connection.vendor == "sqlite":
        schema_editor.execute(f"DROP TRIGGER IF EXISTS {TRIGGER}")
    # PostgreSQL: the table goes with the migration before this one.


class Migration(migrations.Migration):
    dependencies = [("signalsource", "0006_runs")]

    operations = [migrations.RunPython(cascade, no_cascade)]
