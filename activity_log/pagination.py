"""The activity log's two pagination styles, both PostHog's.

- The project log (`ActivityLogPagination`): cursor pagination by default, page numbers when the
  request sends `page`.
- One object's history (`ItemActivityPagination`): `limit` (default 10) and `page` (default 1),
  answering `{results, next, previous, total_count}`. PostHog answers a bad `limit` or `page` with a
  500; here a value that is not a positive integer falls back to the default, and a page past the
  end is empty.

Every page is also cut by size (`api.pagination.represent_within_bytes`, `PAGE_MAX_BYTES`): a record
holds a config before and after, so a thousand of them could be gigabytes. A cursor page's `next`
goes on from the cut; a numbered page cut short links `next` by `offset` (records to skip, which
takes the place of `page`), so following `next` gives every record once.
"""

from rest_framework import pagination
from rest_framework.response import Response
from rest_framework.utils.urls import remove_query_param, replace_query_param

from api.pagination import SecretFreeLinksMixin, represent_within_bytes

from .selectors import NEWEST_FIRST

OFFSET_DESCRIPTION = (
    "Records to skip, in place of `page`: what `next` sends when a page was cut at `PAGE_MAX_BYTES` of JSON."
)


def _offset(request) -> int | None:
    """The `offset` sent (a non-negative integer), or None."""
    value = request.query_params.get("offset", "")
    return int(value[:20]) if value.isascii() and value.isdigit() else None


def _offset_link(request, offset: int, **params) -> str:
    url = remove_query_param(request.build_absolute_uri(), "page")
    for name, value in {**params, "offset": offset}.items():
        url = replace_query_param(url, name, value)
    return url


class _CursorPagination(SecretFreeLinksMixin, pagination.CursorPagination):
    page_size = 100
    ordering = NEWEST_FIRST

    def paginate(self, queryset, request, represent, view=None) -> list:
        # The page's positions first (light rows), then the records whole, as many as fit.
        light = self.paginate_queryset(queryset.select_related(None).only("id", "created_at"), request, view)
        backwards = bool(self.cursor and self.cursor.reverse)
        items, kept = represent_within_bytes(queryset, [row.pk for row in light], represent, from_end=backwards)
        if kept < len(self.page):
            self._cut(kept, backwards)
        return items

    def _cut(self, kept: int, backwards: bool) -> None:
        """Keeps `kept` rows of the page, as if it had been that long: the rows left out come next
        (or, read backwards, before), so DRF's links go on from the cut."""
        if backwards:
            self.previous_position = self._get_position_from_instance(self.page[-kept - 1], self.ordering)
            self.has_previous, self.page = True, self.page[-kept:]
        else:
            self.next_position = self._get_position_from_instance(self.page[kept], self.ordering)
            self.has_next, self.page = True, self.page[:kept]
        self.page_size = kept


class _PageNumberPagination(SecretFreeLinksMixin, pagination.PageNumberPagination):
    page_size = 100
    page_size_query_param = "page_size"
    max_page_size = 1000

    def paginate(self, queryset, request, represent, view=None) -> list:
        self.request, self.offset = request, _offset(request)
        if self.offset is None:
            light = self.paginate_queryset(queryset.select_related(None).only("id"), request, view)
            self.count, self.start = self.page.paginator.count, self.page.start_index() - 1
        else:
            self.page_size = self.get_page_size(request)
            self.count = queryset.count()
            self.start = min(self.offset, self.count)
            light = list(queryset.values_list("pk", flat=True)[self.start : self.start + self.page_size])
        pks = [getattr(row, "pk", row) for row in light]
        items, self.kept = represent_within_bytes(queryset, pks, represent)
        self.cut = self.kept < len(pks)
        return items

    def get_next_link(self):
        if self.offset is None and not self.cut:
            return super().get_next_link()
        after = self.start + self.kept
        return _offset_link(self.request, after, page_size=self.page_size) if after < self.count else None

    def get_previous_link(self):
        if self.offset is None:
            return super().get_previous_link()
        if self.start == 0:
            return None
        return _offset_link(self.request, max(0, self.start - self.page_size), page_size=self.page_size)

    def get_paginated_response(self, data):
        return Response(
            {"count": self.count, "next": self.get_next_link(), "previous": self.get_previous_link(), "results": data}
        )

    def get_schema_operation_parameters(self, view):
        return [
            *super().get_schema_operation_parameters(view),
            {
                "name": "offset",
                "required": False,
                "in": "query",
                "description": OFFSET_DESCRIPTION,
                "schema": {"type": "integer", "minimum": 0},
            },
        ]


class ActivityLogPagination(pagination.BasePagination):
    """Cursor pagination (`{next, previous, results}`, no count: it stays cheap on a long log), or
    page numbers (`{count, next, previous, results}`) when the request sends `page`."""

    def __init__(self):
        self.cursor, self.pages = _CursorPagination(), _PageNumberPagination()
        self.active = self.cursor

    def paginate(self, queryset, request, represent, view=None) -> list:
        """The page's records as `represent` shows them, at most `PAGE_MAX_BYTES` of JSON of them."""
        if "page" in request.query_params or "offset" in request.query_params:
            self.active = self.pages
            queryset = queryset.order_by(*NEWEST_FIRST)
        return self.active.paginate(queryset, request, represent, view)

    def get_paginated_response(self, data):
        return self.active.get_paginated_response(data)

    def get_paginated_response_schema(self, schema):
        schema = self.pages.get_paginated_response_schema(schema)
        schema["required"] = ["results"]
        schema["properties"]["count"]["description"] = "Only with `page`: how many records match."
        return schema

    def get_schema_operation_parameters(self, view):
        descriptions = {
            "page": "A page number: switches from cursor to page-number pagination.",
            "page_size": "With `page`: records per page (default 100, at most 1000).",
            "offset": OFFSET_DESCRIPTION,
        }
        parameters = self.cursor.get_schema_operation_parameters(view)
        parameters += self.pages.get_schema_operation_parameters(view)
        for parameter in parameters:
            parameter["description"] = descriptions.get(parameter["name"], parameter.get("description", ""))
        return parameters


def _positive_int(value, default: int, maximum: int | None = None) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError):
        return default
    if number < 1:
        return default
    return min(number, maximum) if maximum else number


class _ItemActivityPages(pagination.BasePagination):
    default_limit = 10
    max_limit = 1000

    def paginate(self, queryset, request, represent) -> list:
        """The page's records as `represent` shows them, at most `PAGE_MAX_BYTES` of JSON of them."""
        self.request = request
        self.limit = _positive_int(request.query_params.get("limit"), self.default_limit, self.max_limit)
        self.page_number = _positive_int(request.query_params.get("page"), 1)
        self.offset = _offset(request)
        self.total_count = queryset.count()
        # A page past the end is empty without asking the database: a huge page number would overflow
        # its OFFSET.
        self.start = (self.page_number - 1) * self.limit if self.offset is None else self.offset
        pks = []
        if self.start < self.total_count:
            pks = list(queryset.values_list("pk", flat=True)[self.start : self.start + self.limit])
        items, self.kept = represent_within_bytes(queryset, pks, represent)
        return items

    def _link(self, number: int) -> str:
        url = self.request.build_absolute_uri()
        return replace_query_param(replace_query_param(url, "page", number), "limit", self.limit)

    def get_next_link(self) -> str | None:
        after = self.start + self.kept
        if after >= self.total_count:
            return None
        if self.offset is None and self.kept == self.limit:
            return self._link(self.page_number + 1)
        return _offset_link(self.request, after, limit=self.limit)

    def get_previous_link(self) -> str | None:
        if self.offset is not None:
            return _offset_link(self.request, max(0, self.start - self.limit), limit=self.limit) if self.start else None
        if self.page_number == 1:
            return None
        last_page = max(1, -(-self.total_count // self.limit))
        return self._link(min(self.page_number - 1, last_page))

    def get_paginated_response(self, data) -> Response:
        return Response(
            {
                "results": data,
                "next": self.get_next_link(),
                "previous": self.get_previous_link(),
                "total_count": self.total_count,
            }
        )


class ItemActivityPagination(SecretFreeLinksMixin, _ItemActivityPages):
    """One object's history, its links without a key sent in the query."""
