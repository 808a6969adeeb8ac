from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins

from api.viewsets import ProjectScopedViewSet

from . import selectors
from .filters import ActivityLogFilter
from .pagination import ActivityLogPagination
from .serializers import ActivityLogSerializer


@extend_schema_view(
    list=extend_schema(
        summary="List the project's activity log",
        description="Every recorded change in this project, newest first. Records are never changed "
        "or deleted through the API. A page is also cut where its records' JSON passes `PAGE_MAX_BYTES` "
        "(default 1 MiB; a page holds one record whatever its size); `next` goes on from the cut.",
    )
)
class ActivityLogViewSet(mixins.ListModelMixin, ProjectScopedViewSet):
    """PostHog's `/api/projects/{project_id}/activity_log/`: read-only, list only."""

    scope_object = "activity_log"
    queryset = selectors.records()
    serializer_class = ActivityLogSerializer
    pagination_class = ActivityLogPagination
    filterset_class = ActivityLogFilter
    http_method_names = ["get", "head"]

    def list(self, request, *args, **kwargs):
        # The page is cut by size as it is built, so the serializer shows one record at a time.
        queryset = self.filter_queryset(self.get_queryset())
        items = self.paginator.paginate(queryset, request, self.get_serializer().to_representation, view=self)
        return self.paginator.get_paginated_response(items)

    def get_serializer_context(self):
        context = super().get_serializer_context()
        if not getattr(self, "swagger_fake_view", False):
            context["organization_id"] = self.project.organization_id
        return context
