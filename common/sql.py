"""Model rows by hand-written SQL, for the few queries and writes on every request's path.

The ORM builds and compiles a query anew on every request (0.4-0.5 ms of CPU for each of our reads,
0.15-0.25 ms for an INSERT or a DELETE), and `raw()` still works out the columns and their
conversions on every call (0.1 ms more than this, measured on the one-config read). `Columns` and
`insert` do that once per model and database. The values go through the fields' own conversions,
both ways, as the ORM's.

Every statement runs on the database the project's routers name for its model, as the ORM's
queries do (`router.db_for_read` / `db_for_write`): a hand-written read and an ORM read of the same
model never disagree about where to look.
"""

import contextlib
import functools
from typing import NamedTuple

from django.db import connections, router, transaction
from django.db.models import NOT_PROVIDED
from django.db.models.fields import AutoFieldMixin


def reading(model):
    """The connection the routers name for reading `model`."""
    return connections[router.db_for_read(model)]


def writing(model):
    """The connection the routers name for writing `model`."""
    return connections[router.db_for_write(model)]


class Statement(NamedTuple):
    """One write of `model`'s table: its SQL and parameters, run on the model's write database.
    `guarded_sql` is the same write made only after a CTE named `guard` has yielded its row (the
    way `execute` and `write_then_insert` take a lock before the write, in the same statement)."""

    model: type
    sql: str
    params: list
    guarded_sql: str


def _quote(connection, name: str) -> str:
    return connection.ops.quote_name(name)


def _writable(field) -> bool:
    """A column that these statements can write with the value the instance holds. A value computed
    by the database (a `db_default`, a generated column) would be overwritten or refused."""
    return not getattr(field, "generated", False) and field.db_default is NOT_PROVIDED


def _numbered_by_database(field) -> bool:
    """An auto-incremented primary key: an INSERT leaves it out, and the database numbers the row."""
    return isinstance(field, AutoFieldMixin)


class Columns:
    """Every concrete column of `model`, as selected from the table aliased `alias`, read from the
    database the routers name for reading `model` (`reading(model)`)."""

    def __init__(self, model, alias: str):
        self.model = model
        # The alias, not the connection: a connection belongs to one thread, and this is built once.
        self.using = router.db_for_read(model)
        connection = connections[self.using]
        fields = model._meta.concrete_fields
        self.attnames = [field.attname for field in fields]
        self.columns = {field.name: f"{alias}.{_quote(connection, field.column)}" for field in fields}
        self.sql = ", ".join(self.columns.values())
        self._conversions = []
        for i, field in enumerate(fields):
            column = field.get_col(alias)
            converters = connection.ops.get_db_converters(column) + column.get_db_converters(connection)
            if converters:
                self._conversions.append((i, column, converters))

    def __len__(self) -> int:
        return len(self.attnames)

    def column(self, name: str) -> str:
        """The aliased column of the field `name`."""
        return self.columns[name]

    def build(self, values):
        """The instance whose column values (in `sql`'s order) are `values`."""
        values = list(values)
        connection = connections[self.using]
        for i, column, converters in self._conversions:
            for convert in converters:
                values[i] = convert(values[i], column, connection)
        return self.model.from_db(self.using, self.attnames, values)


def table(model, connection=None) -> str:
    """`model`'s table name, quoted for `connection` (default: its read database's)."""
    return _quote(connection or reading(model), model._meta.db_table)


class _Insert:
    """The INSERT of one instance of `model`, every concrete column, for its write database."""

    def __init__(self, model):
        fields = [field for field in model._meta.concrete_fields if not _numbered_by_database(field)]
        unwritable = [field.name for field in fields if not _writable(field)]
        if unwritable:
            raise TypeError(
                f"common.sql cannot insert {model.__name__}: the database computes {', '.join(unwritable)}."
                " Save it with the ORM."
            )
        self.fields = fields
        self.using = router.db_for_write(model)  # the alias: a connection belongs to one thread
        connection = connections[self.using]
        table_name = table(model, connection)
        columns = ", ".join(_quote(connection, field.column) for field in fields)
        self.sql = f"INSERT INTO {table_name} ({columns}) VALUES ({', '.join(['%s'] * len(fields))})"  # noqa: S608
        # The same row from a SELECT (see `write_then_insert`): each value cast to its column's type,
        # since PostgreSQL takes an untyped value there (a NULL) for text.
        typed = ", ".join(f"%s::{field.cast_db_type(connection)}" for field in fields)
        self.select_sql = f"INSERT INTO {table_name} ({columns}) SELECT {typed}"
        self.guarded_sql = f"{self.select_sql} FROM guard"

    def params(self, instance) -> list:
        """Fills in what a save fills in (`auto_now_add`, `auto_now`)."""
        connection = connections[self.using]
        return [field.get_db_prep_save(field.pre_save(instance, True), connection) for field in self.fields]


@functools.cache
def _insert_of(model) -> _Insert:
    # Built on first use, once per model: it needs the write database's dialect.
    return _Insert(model)


def insert(instance) -> Statement:
    """The INSERT of `instance`, every concrete column but an auto-incremented key (the database
    numbers the row; the instance's pk stays None). Unlike `save()` it sends no signals (nothing here
    listens to them). A model with a column the database computes is refused (TypeError)."""
    row = _insert_of(type(instance))
    return Statement(type(instance), row.sql, row.params(instance), row.guarded_sql)


def _fields(model, names) -> list:
    fields = [model._meta.get_field(name) for name in names]
    refused = [field.name for field in fields if not field.concrete or not _writable(field)]
    if refused:
        raise TypeError(f"common.sql cannot write {model.__name__}.{', '.join(refused)}.")
    return fields


def _where(model, connection, where: dict) -> tuple[str, list]:
    fields = _fields(model, where)
    sql = " AND ".join(f"{_quote(connection, field.column)} = %s" for field in fields)
    return sql, [
        field.get_db_prep_value(value, connection) for field, value in zip(fields, where.values(), strict=True)
    ]


def update(model, values: dict, *, where: dict) -> Statement:
    """The UPDATE of `values` (field name: value) in the rows whose fields in `where` equal its values."""
    connection = writing(model)
    fields = _fields(model, values)
    assignments = ", ".join(f"{_quote(connection, field.column)} = %s" for field in fields)
    condition, condition_params = _where(model, connection, where)
    params = [field.get_db_prep_save(value, connection) for field, value in zip(fields, values.values(), strict=True)]
    sql = f"UPDATE {table(model, connection)} SET {assignments} WHERE {condition}"  # noqa: S608
    return Statement(model, sql, params + condition_params, f"{sql} AND {_GUARDED}")


def delete(model, *, where: dict) -> Statement:
    """The DELETE of the rows whose fields in `where` equal its values (no cascade: nothing may
    point at them)."""
    connection = writing(model)
    condition, params = _where(model, connection, where)
    sql = f"DELETE FROM {table(model, connection)} WHERE {condition}"  # noqa: S608
    return Statement(model, sql, params, f"{sql} AND {_GUARDED}")


# An uncorrelated condition: PostgreSQL evaluates it once, before it reads any row (a one-time
# filter), so the guard's lock is taken before the write locks a row.
_GUARDED = "EXISTS (SELECT FROM guard)"


def _guard(lock: int | None, connection) -> tuple[str, list]:
    """The CTE that takes transaction-level advisory lock `lock` on PostgreSQL, or nothing."""
    if lock is None or connection.vendor != "postgresql":
        return "", []
    return "guard AS MATERIALIZED (SELECT pg_advisory_xact_lock(%s)), ", [lock]


def execute(statement: Statement, *, lock: int | None = None) -> int:
    """Runs an INSERT, UPDATE or DELETE; the rows it wrote. With `lock` (PostgreSQL), in the same
    statement and before the write, the transaction-level advisory lock of that number (held to commit)."""
    connection = writing(statement.model)
    guard, guard_params = _guard(lock, connection)
    with connection.cursor() as cursor:
        if guard:
            cursor.execute(f"WITH {guard.rstrip(', ')} {statement.guarded_sql}", [*guard_params, *statement.params])
        else:
            cursor.execute(statement.sql, statement.params)
        return cursor.rowcount


def write_then_insert(statement: Statement, *instances, lock: int | None = None) -> int:
    """Runs `statement` (an INSERT, UPDATE or DELETE of one row) and, if it wrote its row, inserts
    each of `instances`, atomically: all or nothing. Returns the rows `statement` wrote. Every model
    must be written to the same database. With `lock` (PostgreSQL), the transaction-level advisory
    lock of that number is taken first, in the same statement, and held to commit (see `execute`).

    On PostgreSQL they are one statement (`WITH written AS (... RETURNING 1), i1 AS (INSERT ...
    SELECT ... FROM written) INSERT ... SELECT ... FROM written`), atomic by itself: one round trip
    where a transaction takes four or more (BEGIN, each, COMMIT). With the hand-written SQL, 0.5-0.8
    ms of CPU less in the process per create + delete or PATCH (`bench/profile_requests.py`: 3.2-3.6
    to 2.7-2.8 ms, and 3.6-3.9 to 3.0-3.1 ms) and 1.13x the requests per second (`bench/compare.py`).
    Elsewhere, a transaction (SQLite's writes are one at a time: no lock is needed there).
    """
    connection = writing(statement.model)
    rows = []
    for instance in instances:
        row = _insert_of(type(instance))
        if row.using != connection.alias:
            raise TypeError(
                f"{statement.model.__name__} and {type(instance).__name__} are written to different databases."
            )
        rows.append((row, row.params(instance)))
    if connection.vendor != "postgresql":
        with transaction.atomic(using=connection.alias), connection.cursor() as cursor:
            cursor.execute(statement.sql, statement.params)
            written = cursor.rowcount
            if written:
                for row, params in rows:
                    cursor.execute(row.sql, params)
        return written
    guard, params = _guard(lock, connection)
    write_sql = statement.guarded_sql if guard else statement.sql
    ctes = [f"written AS ({write_sql} RETURNING 1)"]
    params += statement.params
    ctes += [f"inserted_{number} AS ({row.select_sql} FROM written)" for number, (row, _) in enumerate(rows[:-1], 1)]
    for _, row_params in rows:
        params += row_params
    last = rows[-1][0]
    combined = f"WITH {guard}{', '.join(ctes)} {last.select_sql} FROM written"
    # Inside a caller's transaction, a savepoint: a failed statement must leave that transaction usable.
    savepoint = transaction.atomic(using=connection.alias) if connection.in_atomic_block else contextlib.nullcontext()
    with savepoint, connection.cursor() as cursor:
        cursor.execute(combined, params)
        # The rows of the last INSERT, one for each row `statement` wrote.
        return cursor.rowcount
