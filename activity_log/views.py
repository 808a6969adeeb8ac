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
        "or deleted through the API.",
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

    def get_serializer_context(self):
        context = super().get_serializer_context()
        if not getattr(self, "swagger_fake_view", False):
            context["organization_id"] = self.project.organization_id
        return context
