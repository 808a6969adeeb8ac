from rest_framework import mixins

from api.viewsets import ProjectScopedViewSet

from . import services
from .filters import SignalSourceConfigFilter
from .models import SignalSourceConfig
from .serializers import SignalSourceConfigSerializer, SignalsSourceConfigSerializer


class SignalSourceConfigViewSet(
    # The published route, and the base of today's PostHog route below: both serve the same rows
    # with the same rules, so whatever is added here applies to both.
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

    # Whether a new config gets its source's default keys (`catalog.Source.new_config_defaults`).
    fill_new_config_defaults = False

    def perform_create(self, serializer):
        serializer.instance = services.create_config(
            project=self.project,
            created_by=self.request.user,
            with_defaults=self.fill_new_config_defaults,
            **serializer.validated_data,
        )

    def perform_update(self, serializer):
        serializer.instance = services.update_config(serializer.instance, **serializer.validated_data)

    def perform_destroy(self, instance):
        services.delete_config(instance)


class SignalsSourceConfigViewSet(SignalSourceConfigViewSet):
    """`signals/source_configs`: the same resource as today's PostHog serves it. It differs from the
    published route only in PostHog's later choices: PUT, no retired types in writes, and the
    source's defaults filled into a new config."""

    serializer_class = SignalsSourceConfigSerializer
    http_method_names = ["get", "post", "put", "patch", "delete", "head"]
    fill_new_config_defaults = True
