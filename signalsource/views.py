from rest_framework import mixins

from api.conditional import ConditionalRequestsMixin
from api.idempotency import IdempotentCreateMixin
from api.parsers import MergePatchMixin, is_merge_patch
from api.schema_headers import HeadersAutoSchema
from api.viewsets import ProjectScopedViewSet

from . import services
from .filters import SignalSourceConfigFilter
from .models import SignalSourceConfig
from .serializers import SignalSourceConfigSerializer


class SignalSourceConfigViewSet(
    IdempotentCreateMixin,  # Idempotency-Key on create
    ConditionalRequestsMixin,  # ETag, If-Match, If-None-Match
    MergePatchMixin,  # PATCH with application/merge-patch+json
    mixins.ListModelMixin,
    mixins.CreateModelMixin,
    mixins.RetrieveModelMixin,
    mixins.UpdateModelMixin,
    mixins.DestroyModelMixin,
    ProjectScopedViewSet,
):
    scope_object = "task"
    queryset = SignalSourceConfig.objects.order_by("-updated_at", "id")
    serializer_class = SignalSourceConfigSerializer
    filterset_class = SignalSourceConfigFilter
    http_method_names = ["get", "post", "patch", "delete", "head"]
    schema = HeadersAutoSchema()

    def perform_create(self, serializer):
        serializer.instance = services.create_config(
            project=self.project, created_by=self.request.user, **serializer.validated_data
        )

    def perform_update(self, serializer):
        changes = dict(serializer.validated_data)
        if is_merge_patch(self.request) and "config" in changes:
            changes["config_patch"] = changes.pop("config")
        serializer.instance = services.update_config(
            serializer.instance, expected_version=self.expected_version, **changes
        )

    def perform_destroy(self, instance):
        services.delete_config(instance, expected_version=self.expected_version)
