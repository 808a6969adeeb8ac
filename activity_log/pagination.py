"""The activity log's two pagination styles, both PostHog's.

- The project log (`ActivityLogPagination`): cursor pagination by default, page numbers when the
  request sends `page`.
- One object's history (`ItemActivityPagination`): `limit` (default 10) and `page` (default 1),
  answering `{results, next, previous, total_count}`. PostHog answers a bad `limit` or `page` with a
  500; here a value that is not a positive integer falls back to the default, and a page past the
  end is empty.
"""

from rest_framework import pagination
from rest_framework.response import Response
from rest_framework.utils.urls import replace_query_param

from api.pagination import SecretFreeLinksMixin

from .selectors import NEWEST_FIRST


class _CursorPagination(SecretFreeLinksMixin, pagination.CursorPagination):
    page_size = 100
    ordering = NEWEST_FIRST


class _PageNumberPagination(SecretFreeLinksMixin, pagination.PageNumberPagination):
    page_size = 100
    page_size_query_param = "page_size"
    max_page_size = 1000


class ActivityLogPagination(pagination.BasePagination):
    """Cursor pagination (`{next, previous, results}`, no count: it stays cheap on a long log), or
    page numbers (`{count, next, previous, results}`) when the request sends `page`."""

    def __init__(self):
        self.cursor, self.pages = _CursorPagination(), _PageNumberPagination()
        self.active = self.cursor

    def paginate_queryset(self, queryset, request, view=None):
        if "page" in request.query_params:
            self.active = self.pages
            queryset = queryset.order_by(*NEWEST_FIRST)
        return self.active.paginate_queryset(queryset, request, view)

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

    def paginate_queryset(self, queryset, request, view=None) -> list:
        self.request = request
        self.limit = _positive_int(request.query_params.get("limit"), self.default_limit, self.max_limit)
        self.page_number = _positive_int(request.query_params.get("page"), 1)
        self.total_count = queryset.count()
        # A page past the end is empty without asking the database: a huge page number would overflow
        # its OFFSET.
        offset = (self.page_number - 1) * self.limit
        return list(queryset[offset : offset + self.limit]) if offset < self.total_count else []

    def _link(self, number: int) -> str:
        url = self.request.build_absolute_uri()
        return replace_query_param(replace_query_param(url, "page", number), "limit", self.limit)

    def get_next_link(self) -> str | None:
        return self._link(self.page_number + 1) if self.page_number * self.limit < self.total_count else None

    def get_previous_link(self) -> str | None:
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
