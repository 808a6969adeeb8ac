from django.conf import settings
from django.db.models import Count, Window
from rest_framework import pagination
from rest_framework.utils.urls import remove_query_param

from .renderers import ORJSONRenderer

# A key sent in the query string (see PERSONAL_API_KEY_IN_REQUEST_ALLOWED) must not be echoed into
# the `next` and `previous` links, which clients log and share.
SECRET_QUERY_PARAMS = ("personal_api_key",)


def without_secrets(url: str | None) -> str | None:
    for name in SECRET_QUERY_PARAMS:
        url = url and remove_query_param(url, name)
    return url


class SecretFreeLinksMixin:
    """For a DRF pagination class: its `next` and `previous` links without a key sent in the query."""

    def get_next_link(self):
        return without_secrets(super().get_next_link())

    def get_previous_link(self):
        return without_secrets(super().get_previous_link())


class LimitOffsetPagination(SecretFreeLinksMixin, pagination.LimitOffsetPagination):
    """DRF's limit/offset pagination (default 100, capped at 1000; bad values fall back to the
    defaults), with the total counted in the same query as the page.

    Ours because DRF always runs a separate COUNT query; a window count saves one round trip on
    every list. The COUNT query is only needed when the page is empty and the offset is not 0.
    """

    default_limit = 100
    max_limit = 1000
    # OFFSET and LIMIT are 64-bit in SQLite and PostgreSQL; a larger offset is a 500 there, so it
    # is clamped (any offset this large is past the end anyway).
    max_offset = 2**63 - 1 - max_limit

    def get_offset(self, request):
        return min(super().get_offset(request), self.max_offset)

    def paginate_queryset(self, queryset, request, view=None):
        def fetch_page(*, offset, limit):
            return list(queryset.annotate(total_count=Window(Count("pk")))[offset : offset + limit])

        return self.paginate_with(fetch_page, request, count=queryset.count)

    def paginate_with(self, fetch_page, request, *, count):
        """The page `fetch_page(offset=..., limit=...)` returns: its rows, each annotated with the
        `total_count` of the whole list. `count()` counts the list when the page is empty."""
        self.request = request
        self.limit = self.get_limit(request)
        self.offset = self.get_offset(request)
        rows = fetch_page(offset=self.offset, limit=self.limit)
        if rows:
            self.count = rows[0].total_count
        else:
            self.count = count() if self.offset else 0
        return rows

    def get_schema_operation_parameters(self, view):
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            if parameter["name"] == self.limit_query_param:
                parameter["schema"] |= {"default": self.default_limit, "maximum": self.max_limit}
                parameter["description"] = (
                    f"Number of results to return per page (at most {self.max_limit}; a larger value gives "
                    f"{self.max_limit}, an invalid one {self.default_limit})."
                )
        return parameters

    def get_paginated_response_schema(self, schema):
        # Every field is always present (`next` and `previous` null at the ends).
        response_schema = super().get_paginated_response_schema(schema)
        response_schema["required"] = list(response_schema["properties"])
        return response_schema


# Rows are fetched whole this many at a time while a page fills up, so a page of large rows holds at
# most this many in memory beyond what it shows (a record is at most a few MiB: a config twice).
FETCH_CHUNK = 20


def represent_within_bytes(queryset, pks: list, represent, *, from_end: bool = False) -> tuple[list, int]:
    """`represent(row)` for the rows of `queryset` with these `pks` (in page order), while their JSON
    adds up to at most `PAGE_MAX_BYTES`, and how many of `pks` that accounts for. The first is always
    kept, so a walk by `next` makes progress. Rows are fetched whole `FETCH_CHUNK` at a time, so a page
    of large rows never holds them all. `from_end`: kept from the last back (a page read backwards keeps
    the rows nearest its cursor), returned in page order. A row deleted since `pks` were read is skipped."""
    order = pks[::-1] if from_end else pks
    items, size, consumed = [], 0, 0
    for start in range(0, len(order), FETCH_CHUNK):
        chunk = order[start : start + FETCH_CHUNK]
        rows = queryset.in_bulk(chunk)
        for pk in chunk:
            if pk in rows:
                item = represent(rows[pk])
                size += len(ORJSONRenderer().render(item))
                if items and size > settings.PAGE_MAX_BYTES:
                    return (items[::-1] if from_end else items), consumed
                items.append(item)
            consumed += 1
    return (items[::-1] if from_end else items), consumed
