"""Model rows by hand-written SQL, for the few queries and writes on every request's path.

The ORM builds and compiles a query anew on every request (0.4-0.5 ms of CPU for each of our reads,
0.15-0.25 ms for an INSERT or a DELETE), and `raw()` still works out the columns and their
conversions on every call (0.1 ms more than this, measured on the one-config read). `Columns` and
`insert` do that once per model. The values go through the fields' own conversions, both ways, as
the ORM's.
"""

import contextlib
import functools

from django.db import connection, transaction


def _quote(name: str) -> str:
    return connection.ops.quote_name(name)


class Columns:
    """Every concrete column of `model`, as selected from the table aliased `alias`."""

    def __init__(self, model, alias: str):
        fields = model._meta.concrete_fields
        self.model = model
        self.attnames = [field.attname for field in fields]
        self.sql = ", ".join(f"{alias}.{_quote(field.column)}" for field in fields)
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


class _Insert:
    """The INSERT of one instance of `model`, every concrete column."""

    def __init__(self, model):
        self.fields = model._meta.concrete_fields
        table, columns = _quote(model._meta.db_table), ", ".join(_quote(field.column) for field in self.fields)
        self.sql = f"INSERT INTO {table} ({columns}) VALUES ({', '.join(['%s'] * len(self.fields))})"  # noqa: S608
        # The same row from a SELECT (see `write_then_insert`): each value cast to its column's type,
        # since PostgreSQL takes an untyped value there (a NULL) for text.
        typed = ", ".join(f"%s::{field.cast_db_type(connection)}" for field in self.fields)
        self.select_sql = f"INSERT INTO {table} ({columns}) SELECT {typed}"

    def params(self, instance) -> list:
        """Fills in what a save fills in (`auto_now_add`, `auto_now`)."""
        return [field.get_db_prep_save(field.pre_save(instance, True), connection) for field in self.fields]


@functools.cache
def _insert_of(model) -> _Insert:
    # Built on first use, once per model: it needs the connection's dialect.
    return _Insert(model)


def insert(instance) -> tuple[str, list]:
    """The INSERT of `instance`, every concrete column. Unlike `save()` it sends no signals (nothing
    here listens to them)."""
    row = _insert_of(type(instance))
    return row.sql, row.params(instance)


def _where(model, where: dict) -> tuple[str, list]:
    fields = [model._meta.get_field(name) for name in where]
    sql = " AND ".join(f"{_quote(field.column)} = %s" for field in fields)
    return sql, [
        field.get_db_prep_value(value, connection) for field, value in zip(fields, where.values(), strict=True)
    ]


def update(model, values: dict, *, where: dict) -> tuple[str, list]:
    """The UPDATE of `values` (field name: value) in the rows whose fields in `where` equal its values."""
    fields = [model._meta.get_field(name) for name in values]
    assignments = ", ".join(f"{_quote(field.column)} = %s" for field in fields)
    condition, condition_params = _where(model, where)
    params = [field.get_db_prep_save(value, connection) for field, value in zip(fields, values.values(), strict=True)]
    return f"UPDATE {_quote(model._meta.db_table)} SET {assignments} WHERE {condition}", params + condition_params  # noqa: S608


def delete(model, *, where: dict) -> tuple[str, list]:
    """The DELETE of the rows whose fields in `where` equal its values (no cascade: nothing may
    point at them)."""
    condition, params = _where(model, where)
    return f"DELETE FROM {_quote(model._meta.db_table)} WHERE {condition}", params  # noqa: S608


def execute(statement: tuple[str, list]) -> int:
    """Runs an INSERT, UPDATE or DELETE; the rows it wrote."""
    with connection.cursor() as cursor:
        cursor.execute(*statement)
        return cursor.rowcount


def write_then_insert(statement: tuple[str, list], instance) -> int:
    """Runs `statement` (an INSERT, UPDATE or DELETE of one row) and, if it wrote its row, inserts
    `instance`, atomically: both or neither. Returns the rows `statement` wrote.

    On PostgreSQL the two are one statement (`WITH written AS (... RETURNING 1) INSERT ... SELECT ...
    FROM written`), atomic by itself: one round trip where a transaction takes four (BEGIN, the two,
    COMMIT). With the hand-written SQL, 0.5-0.8 ms of CPU less in the process per create + delete or
    PATCH (`bench/profile_requests.py`: 3.2-3.6 to 2.7-2.8 ms, and 3.6-3.9 to 3.0-3.1 ms) and
    1.13x the requests per second (`bench/compare.py`). Elsewhere, a transaction.
    """
    sql, params = statement
    row = _insert_of(type(instance))
    insert_params = row.params(instance)
    if connection.vendor != "postgresql":
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(sql, params)
            written = cursor.rowcount
            if written:
                cursor.execute(row.sql, insert_params)
        return written
    combined = f"WITH written AS ({sql} RETURNING 1) {row.select_sql} FROM written"
    # Inside a caller's transaction, a savepoint: a failed statement must leave that transaction usable.
    savepoint = transaction.atomic() if connection.in_atomic_block else contextlib.nullcontext()
    with savepoint, connection.cursor() as cursor:
        cursor.execute(combined, [*params, *insert_params])
        return cursor.rowcount
