import uuid

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import exceptions, mixins
from rest_framework.decorators import action

from activity_log import selectors as activity_selectors
from activity_log.pagination import ItemActivityPagination
from activity_log.serializers import ActivityLogSerializer, ItemActivityPageSerializer
from activity_log.services import Actor
from api.conditional import ConditionalRequestsMixin
from api.idempotency import IdempotentCreateMixin
from api.parsers import MergePatchMixin, is_merge_patch
from api.viewsets import ProjectListModelMixin, ProjectScopedViewSet

from . import activity, selectors, services
from .filters import SignalSourceConfigFilter
from .models import SignalSourceConfig
from .serializers import SignalSourceConfigSerializer, SignalsSourceConfigSerializer


class SignalSourceConfigViewSet(
    # The published route, and the base of today's PostHog route below: both serve the same rows
    # with the same rules, so whatever is added here applies to both.
    IdempotentCreateMixin,  # Idempotency-Key on create
    ConditionalRequestsMixin,  # ETag, If-Match, If-None-Match (PATCH, PUT, DELETE, retrieve)
    MergePatchMixin,  # PATCH with application/merge-patch+json
    ProjectListModelMixin,  # DRF's list, by the page selector where nothing narrows it
    mixins.CreateModelMixin,
    mixins.RetrieveModelMixin,
    mixins.UpdateModelMixin,
    mixins.DestroyModelMixin,
    ProjectScopedViewSet,
):
    scope_object = "task"
    scope_object_read_actions = (*ProjectScopedViewSet.scope_object_read_actions, "activity")
    queryset = SignalSourceConfig.objects.order_by(*selectors.LIST_ORDER)
    serializer_class = SignalSourceConfigSerializer
    filterset_class = SignalSourceConfigFilter
    project_object_selector = selectors.project_config
    project_page_selector = selectors.project_configs_page
    http_method_names = ["get", "post", "patch", "delete", "head"]

    # Whether a new config gets its source's default keys (`catalog.Source.new_config_defaults`),
    # and whether writes refuse a retired `source_type` (`catalog.RETIRED_TYPES`).
    fill_new_config_defaults = False
    refuse_retired_types = False

    def perform_create(self, serializer):
        serializer.instance = services.create_config(
            project=self.project,
            created_by=self.request.user,
            with_defaults=self.fill_new_config_defaults,
            refuse_retired_types=self.refuse_retired_types,
            actor=Actor.api_key(self.request),
            **serializer.validated_data,
        )

    def perform_update(self, serializer):
        changes = dict(serializer.validated_data)
        if is_merge_patch(self.request) and "config" in changes:
            changes["config_patch"] = changes.pop("config")
        serializer.instance = services.update_config(
            serializer.instance,
            expected_version=self.expected_version,
            refuse_retired_types=self.refuse_retired_types,
            actor=Actor.api_key(self.request),
            **changes,
        )

    def perform_destroy(self, instance):
        services.delete_config(instance, expected_version=self.expected_version, actor=Actor.api_key(self.request))

    @extend_schema(
        summary="List one config's activity",
        description="The config's recorded changes, newest first, in the shape of PostHog's "
        "`.../{id}/activity` routes. Still readable after the config is deleted.",
        parameters=[
            OpenApiParameter("limit", OpenApiTypes.INT, description="Records per page (default 10, at most 1000)."),
            OpenApiParameter("page", OpenApiTypes.INT, description="The page, from 1 (default 1)."),
        ],
        filters=False,
    )
    # The serializer only describes the page (`api/schema.py` adds the errors); the action builds it.
    @action(detail=True, methods=["get"], serializer_class=ItemActivityPageSerializer)
    def activity(self, request, *args, **kwargs):
        # Not get_object: a deleted config's history stays readable. Its records are found by id
        # within this project, so another project's config answers 404 like any unknown id.
        try:
            config_id = uuid.UUID(str(kwargs[self.lookup_url_kwarg or self.lookup_field]))
        except ValueError:
            raise exceptions.NotFound() from None
        records = activity_selectors.item_records(project_id=self.project.id, scope=activity.SCOPE, item_id=config_id)
        paginator = ItemActivityPagination()
        rows = paginator.paginate_queryset(records, request, view=self)
        if not paginator.total_count and not self.get_queryset().filter(pk=config_id).exists():
            raise exceptions.NotFound()
        context = {"organization_id": self.project.organization_id}
        return paginator.get_paginated_response(ActivityLogSerializer(rows, many=True, context=context).data)


class SignalsSourceConfigViewSet(SignalSourceConfigViewSet):
    """`signals/source_configs`: the same resource as today's PostHog serves it. It differs from the
    published route only in PostHog's later choices: PUT, no retired types in writes, and the
    source's defaults filled into a new config."""

    serializer_class = SignalsSourceConfigSerializer
    http_method_names = ["get", "post", "put", "patch", "delete", "head"]
    fill_new_config_defaults = True
    refuse_retired_types = True
