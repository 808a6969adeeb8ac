"""Model instances from hand-written SQL, for the few queries on every request's path.

The ORM builds and compiles a query anew on every request (0.4-0.5 ms of CPU for each of ours), and
`raw()` still works out the columns and their conversions on every call (0.1 ms more than this,
measured on the one-config read). A `Columns` does that once: it writes a model's columns for a
SELECT and builds instances from a row's values with the conversions the ORM applies (JSON; on
SQLite also datetimes and UUIDs).
"""

from django.db import connection


class Columns:
    """Every concrete column of `model`, as selected from the table aliased `alias`."""

    def __init__(self, model, alias: str):
        fields = model._meta.concrete_fields
        self.model = model
        self.attnames = [field.attname for field in fields]
        self.sql = ", ".join(f"{alias}.{connection.ops.quote_name(field.column)}" for field in fields)
        self._conversions = []
        for i, field in enumerate(fields):
            column = field.get_col(alias)
            converters = connection.ops.get_db_converters(column) + column.get_db_converters(connection)
            if converters:
                self._conversions.append((i, column, converters))

    def __len__(self) -> int:
        return len(self.attnames)

    def build(self, values):
        """The instance whose column values (in `sql`'s order) are `values`."""
        values = list(values)
        for i, column, converters in self._conversions:
            for convert in converters:
                values[i] = convert(values[i], column, connection)
        return self.model.from_db(connection.alias, self.attnames, values)
