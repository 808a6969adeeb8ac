"""Reading configs.

The two reads behind every API request but a create are written as SQL by hand (`common.sql`): the
ORM spends more CPU building and compiling them than the rest of the request's database work
(bench/profile_requests.py). They read what the ORM's queries read, in the same order; the tests
compare the two (tests/signalsource/test_selectors.py).
"""

import functools

from django.core.exceptions import ValidationError

from common import sql
from common.sql import Columns

from .models import SignalSourceConfig

# The list's order: newest change first, ties by id (served by the model's list index).
LIST_ORDER = ("-updated_at", "id")


@functools.cache
def _one_config_query() -> tuple[str, Columns]:
    columns = Columns(SignalSourceConfig, "c")
    where = f"{columns.column('project')} = %s AND {columns.column('id')} = %s"
    return f"SELECT {columns.sql} FROM {sql.table(SignalSourceConfig)} c WHERE {where}", columns  # noqa: S608


def project_config(*, project_id: int, pk) -> SignalSourceConfig | None:
    """The project's config with this id; None when there is none, or `pk` is no id at all.

    `SignalSourceConfig.objects.filter(project_id=..., pk=...).first()`, which every retrieve, PATCH,
    PUT and DELETE runs: 0.14 ms of CPU by hand against the ORM's 0.5-0.7 ms, which was a quarter of
    a retrieve's (`bench/profile_requests.py --reads`).
    """
    connection = sql.reading(SignalSourceConfig)
    pk_field = SignalSourceConfig._meta.pk
    try:
        config_id = pk_field.get_db_prep_value(pk_field.to_python(pk), connection)
    except ValidationError:
        return None
    query, columns = _one_config_query()
    with connection.cursor() as cursor:
        cursor.execute(query, [project_id, config_id])
        row = cursor.fetchone()
    return columns.build(row) if row else None


@functools.cache
def _page_query() -> tuple[str, Columns]:
    columns = Columns(SignalSourceConfig, "c")
    order = ", ".join(
        f"{columns.column(name.lstrip('-'))} {'DESC' if name[0] == '-' else 'ASC'}" for name in LIST_ORDER
    )
    query = (
        f"SELECT {columns.sql}, COUNT(*) OVER () FROM {sql.table(SignalSourceConfig)} c"  # noqa: S608 -- names only
        f" WHERE {columns.column('project')} = %s ORDER BY {order} LIMIT %s OFFSET %s"
    )
    return query, columns


def project_configs_page(*, project_id: int, offset: int, limit: int) -> list[SignalSourceConfig]:
    """One page of the project's configs in `LIST_ORDER`, each with the `total_count` of the list:
    the query `api.pagination` makes of the list's queryset. 0.2 ms of CPU by hand against the
    ORM's 0.66 ms, which was a quarter of a list's (`bench/profile_requests.py --reads`)."""
    query, columns = _page_query()
    with sql.reading(SignalSourceConfig).cursor() as cursor:
        cursor.execute(query, [project_id, limit, offset])
        rows = cursor.fetchall()
    page = []
    for *values, total_count in rows:
        config = columns.build(values)
        config.total_count = total_count
        page.append(config)
    return page


def config_by_source(*, project_id: int, source_product: str, source_type: str) -> SignalSourceConfig | None:
    """The project's config of this source (at most one: the model's unique constraint), or None."""
    return SignalSourceConfig.objects.filter(
        project_id=project_id, source_product=source_product, source_type=source_type
    ).first()


def configs_by_source(*, project_id: int, pairs) -> dict[tuple[str, str], SignalSourceConfig]:
    """The project's configs of these sources, by `(source_product, source_type)`: one query for a bulk."""
    products = {product for product, _ in pairs}
    types = {source_type for _, source_type in pairs}
    rows = SignalSourceConfig.objects.filter(project_id=project_id, source_product__in=products, source_type__in=types)
    wanted = set(pairs)
    return {
        (row.source_product, row.source_type): row for row in rows if (row.source_product, row.source_type) in wanted
    }
