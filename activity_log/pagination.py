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
from rest_framework.utils.urls import remove_query_param, replace_query_param

from api.pagination import SECRET_QUERY_PARAMS

from .selectors import NEWEST_FIRST


def _without_secrets(url: str | None) -> str | None:
    for name in SECRET_QUERY_PARAMS:
        url = url and remove_query_param(url, name)
    return url


class _CursorPagination(pagination.CursorPagination):
    page_size = 100
    ordering = NEWEST_FIRST

    def get_next_link(self):
        return _without_secrets(super().get_next_link())

    def get_previous_link(self):
        return _without_secrets(super().get_previous_link())


class _PageNumberPagination(pagination.PageNumberPagination):
    page_size = 100
    page_size_query_param = "page_size"
    max_page_size = 1000

    def get_next_link(self):
        return _without_secrets(super().get_next_link())

    def get_previous_link(self):
        return _without_secrets(super().get_previous_link())


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


class ItemActivityPagination:
    default_limit = 10
    max_limit = 1000

    def paginate(self, queryset, request) -> dict:
        limit = _positive_int(request.query_params.get("limit"), self.default_limit, self.max_limit)
        page_number = _positive_int(request.query_params.get("page"), 1)
        total = queryset.count()
        # A page past the end is empty without asking the database: a huge page number would overflow
        # its OFFSET.
        offset = (page_number - 1) * limit
        rows = list(queryset[offset : offset + limit]) if offset < total else []
        last_page = max(1, -(-total // limit))
        url = _without_secrets(request.build_absolute_uri())

        def link(number):
            return replace_query_param(replace_query_param(url, "page", number), "limit", limit)

        return {
            "rows": rows,
            "next": link(page_number + 1) if page_number * limit < total else None,
            "previous": link(min(page_number - 1, last_page)) if page_number > 1 else None,
            "total_count": total,
        }

    def response(self, page: dict, results) -> Response:
        return Response(
            {"results": results, "next": page["next"], "previous": page["previous"], "total_count": page["total_count"]}
        )
