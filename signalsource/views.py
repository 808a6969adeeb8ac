from rest_framework import mixins

from api.viewsets import ProjectScopedViewSet

from . import services
from .filters import SignalSourceConfigFilter
from .models import SignalSourceConfig
from .serializers import SignalSourceConfigSerializer


class SignalSourceConfigViewSet(
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

    def perform_create(self, serializer):
        serializer.instance = services.create_config(
            project=self.project, created_by=self.request.user, **serializer.validated_data
        )

    def perform_update(self, serializer):
        serializer.instance = services.update_config(serializer.instance, **serializer.validated_data)

    def perform_destroy(self, instance):
        services.delete_config(instance)
