import uuid
from urllib.parse import urlencode

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import exceptions, mixins, status
from rest_framework.decorators import action
from rest_framework.response import Response

from activity_log import selectors as activity_selectors
from activity_log.pagination import OFFSET_DESCRIPTION, ItemActivityPagination
from activity_log.serializers import ActivityLogSerializer, ItemActivityPageSerializer
from activity_log.services import Actor
from api import conditional, idempotency
from api.conditional import ConditionalRequestsMixin, Precondition, etag_for
from api.exceptions import Conflict, exception_handler
from api.idempotency import IdempotentCreateMixin, respond_idempotently
from api.parsers import MergePatchMixin, is_merge_patch
from api.throttling import charge
from api.viewsets import ProjectListModelMixin, ProjectScopedViewSet
from change_events import selectors as event_selectors
from change_events import serializers as event_serializers
from change_events import services as event_services

from . import activity, health, runs, selectors, services
from .filters import SignalSourceConfigFilter
from .models import SignalSourceConfig, SignalSourceRun
from .serializers import (
    BulkRefusedSerializer,
    BulkRequestSerializer,
    BulkResponseSerializer,
    SignalSourceConfigHealthSerializer,
    SignalSourceConfigSerializer,
    SignalSourceRunReportSerializer,
    SignalSourceRunSerializer,
    SignalSourceRunStartSerializer,
    SignalsSourceConfigSerializer,
    SourceConfigUpsertSerializer,
)

# `.../by_source/{source_product}/{source_type}/`: a config found by its source, as a client that
# "makes sure source X is on" names it.
BY_SOURCE_PATH = r"by_source/(?P<source_product>[^/.]+)/(?P<source_type>[^/.]+)"
UPSERT_DESCRIPTION = (
    "Creates the project's config of this source if it has none (201, with the source's default keys, as a "
    "create), else changes it (200, as a PUT: what the body leaves out keeps its stored value). Atomic and "
    "race-free: two concurrent upserts of one source make one config. With `Content-Type: "
    "application/merge-patch+json` (RFC 7396), `config` is merged into the stored one key by key (`null` "
    "removes a key); with `application/json` it is replaced whole. A body that changes nothing writes nothing: "
    "200 with the config as it was, its ETag and `updated_at` unchanged, and no activity record."
)
UPSERT_IF_MATCH = (
    "Change the config only if it is at this ETag (one or more, comma-separated; weak tags never match); `*`: "
    "only if it exists. Else 412 and nothing changes."
)
UPSERT_IF_NONE_MATCH = "`*`: create the config only; if it exists, 412 and nothing changes."
UPSERT_PRECONDITION_FAILED = (
    "`If-Match` does not match the config (it changed, or there is none), or `If-None-Match: *` and the config "
    "exists. Nothing was changed."
)


BULK_DESCRIPTION = (
    "Creates or changes up to 100 configs of this project, one per source, each as an upsert by source would "
    "with a merge patch (`config` is merged into the stored one; on create the source's default keys are filled "
    "in). The answer lists every operation's result in order: its status (201, 200, 304 when there was nothing "
    "to change and nothing was written, 4xx when refused), the config and its ETag, or the error. `atomic` "
    "(the default): all apply or none does; one refused operation makes the whole request a 400 that lists "
    "every result, and nothing is written. Not atomic: each applies on its own, and the request answers 200. "
    "Naming one source twice is a 400 for the request. Each changed config gets its own activity record. "
    "Rate limits count each operation as one request (a bulk they refuse, 429, still counts as one)."
)
BULK_REFUSED = (
    "The request is refused and nothing was written: a malformed body, one source named twice, or, in an "
    "atomic bulk, a refused operation (then `results` lists every operation's result: the refused ones with "
    "their error, the others with status 424 and `not_applied`)."
)
BULK_NOT_APPLIED = {
    "type": "validation_error",
    "code": "not_applied",
    "detail": "Not applied: another operation of this atomic bulk was refused.",
    "attr": None,
}


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
        "`.../{id}/activity` routes. Still readable after the config is deleted. A page is also cut where its "
        "records' JSON passes `PAGE_MAX_BYTES` (default 1 MiB; a page holds one record whatever its size): "
        "`next` then goes on from the cut with `offset`, so following `next` gives every record once.",
        parameters=[
            OpenApiParameter("limit", OpenApiTypes.INT, description="Records per page (default 10, at most 1000)."),
            OpenApiParameter("page", OpenApiTypes.INT, description="The page, from 1 (default 1)."),
            OpenApiParameter("offset", OpenApiTypes.INT, description=OFFSET_DESCRIPTION),
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
        serializer = ActivityLogSerializer(context={"organization_id": self.project.organization_id})
        items = paginator.paginate(records, request, serializer.to_representation)
        if not paginator.total_count and not self.get_queryset().filter(pk=config_id).exists():
            raise exceptions.NotFound()
        return paginator.get_paginated_response(items)


class SignalsSourceConfigViewSet(SignalSourceConfigViewSet):
    """`signals/source_configs`: the same resource as today's PostHog serves it. It differs from the
    published route only in PostHog's later choices: PUT, no retired types in writes, and the
    source's defaults filled into a new config."""

    serializer_class = SignalsSourceConfigSerializer
    http_method_names = ["get", "post", "put", "patch", "delete", "head"]
    fill_new_config_defaults = True
    refuse_retired_types = True
    scope_object_read_actions = (
        *SignalSourceConfigViewSet.scope_object_read_actions,
        "retrieve_by_source",
        "health",
        "changes",
    )
    scope_object_write_actions = (
        *SignalSourceConfigViewSet.scope_object_write_actions,
        "upsert_by_source",
        "destroy_by_source",
        "bulk",
    )
    merge_patch_actions = (*SignalSourceConfigViewSet.merge_patch_actions, "upsert_by_source")
    openapi_by_action = {
        "health": {"errors": {"400": (exceptions.ValidationError, "`state` is not one of the health states.")}},
        "retrieve_by_source": {
            "headers": [
                conditional.header("If-None-Match", conditional.IF_NONE_MATCH),
                conditional.header("ETag", conditional.ETAG, response=["200", "304"]),
            ],
            "responses": {"304": "Not modified: the config's ETag matches `If-None-Match`."},
        },
        "upsert_by_source": {
            "headers": [
                conditional.header("If-Match", UPSERT_IF_MATCH),
                conditional.header("If-None-Match", UPSERT_IF_NONE_MATCH),
                conditional.header("ETag", conditional.ETAG, response=["200", "201"]),
            ],
            "bodies": {
                "201": (SignalsSourceConfigSerializer, "Created: the project had no config of this source."),
            },
            "errors": {"412": (conditional.PreconditionFailed, UPSERT_PRECONDITION_FAILED)},
            "description": UPSERT_DESCRIPTION,
        },
        "destroy_by_source": {
            "headers": [conditional.header("If-Match", conditional.IF_MATCH)],
            "errors": {"412": conditional.PRECONDITION_FAILED},
        },
        "bulk": {
            **idempotency.openapi_extras("200"),
            "success": "200",
            "bodies": {"400": (BulkRefusedSerializer, BULK_REFUSED)},
            "description": BULK_DESCRIPTION,
        },
        "changes": {
            "errors": {
                "400": (event_serializers.MalformedCursor, "A malformed cursor or limit."),
                "410": (event_serializers.CursorExpired, "The cursor is older than the feed's retention."),
            }
        },
    }

    @extend_schema(
        summary="Read the project's config changes",
        description="Every committed change of the project's configs, one CloudEvents 1.0 event each, oldest "
        "first, from the position after `after`. Resume with the `cursor` of the last page: no committed change "
        "is skipped or repeated. Events are kept `EVENTS_RETENTION_DAYS` (default 7); an older cursor answers 410. "
        "A page also ends where its events' JSON passes `PAGE_MAX_BYTES` (default 1 MiB; at least one event).",
        parameters=[
            OpenApiParameter(
                "after",
                OpenApiTypes.STR,
                description="A `cursor` from an earlier page; none: the oldest retained event.",
            ),
            OpenApiParameter("limit", OpenApiTypes.INT, description="Events per page (default 100, at most 1000)."),
        ],
        filters=False,
    )
    @action(detail=False, methods=["get"], serializer_class=event_serializers.ChangeFeedPageSerializer)
    def changes(self, request, *args, **kwargs):
        limit = request.query_params.get("limit", str(event_services.DEFAULT_PAGE))
        if not (limit.isascii() and limit.isdigit() and 1 <= int(limit[:5]) <= event_services.MAX_PAGE):
            raise event_serializers.BadLimit()
        after = request.query_params.get("after")
        try:
            page = event_selectors.page_after(project_id=self.project.id, cursor=after, limit=int(limit))
        except event_services.MalformedCursor:
            raise event_serializers.MalformedCursor() from None
        except event_services.CursorExpired:
            raise event_serializers.CursorExpired() from None
        next_url = None
        if page.more:
            next_url = request.build_absolute_uri(
                request.path + "?" + urlencode({"after": page.cursor, "limit": limit})
            )
        return Response({"results": page.events, "cursor": page.cursor, "next": next_url})

    def _source(self) -> tuple[str, str]:
        return self.kwargs["source_product"], self.kwargs["source_type"]

    def _config_by_source(self) -> SignalSourceConfig | None:
        source_product, source_type = self._source()
        return selectors.config_by_source(
            project_id=self.project.id, source_product=source_product, source_type=source_type
        )

    @extend_schema(summary="Get the config of a source", filters=False)
    @action(detail=False, methods=["get"], url_path=BY_SOURCE_PATH, url_name="by_source")
    def retrieve_by_source(self, request, *args, **kwargs):
        instance = self._config_by_source()
        if instance is None:
            raise exceptions.NotFound()
        return self.conditional_response(instance)

    @extend_schema(summary="Create or change the config of a source", request=SourceConfigUpsertSerializer)
    @retrieve_by_source.mapping.put
    def upsert_by_source(self, request, *args, **kwargs):
        serializer = SourceConfigUpsertSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        values = dict(serializer.validated_data)
        if is_merge_patch(request) and "config" in values:
            values["config_patch"] = values.pop("config")
        source_product, source_type = self._source()
        precondition = Precondition(request.headers.get("If-Match"), request.headers.get("If-None-Match"))
        instance, outcome = services.upsert_config(
            project=self.project,
            source_product=source_product,
            source_type=source_type,
            created_by=request.user,
            precondition=precondition,
            with_defaults=self.fill_new_config_defaults,
            refuse_retired_types=self.refuse_retired_types,
            actor=Actor.api_key(request),
            **values,
        )
        answer = status.HTTP_201_CREATED if outcome == services.CREATED else status.HTTP_200_OK
        return Response(self.get_serializer(instance).data, status=answer, headers={"ETag": etag_for(instance)})

    @extend_schema(summary="Delete the config of a source")
    @retrieve_by_source.mapping.delete
    def destroy_by_source(self, request, *args, **kwargs):
        instance = self._config_by_source()
        precondition = Precondition(request.headers.get("If-Match"))
        if instance is None:
            precondition.check_absent()  # a config the client holds an ETag of is gone: 412
            raise exceptions.NotFound()
        services.delete_config(
            instance, expected_version=precondition.expected_version(instance), actor=Actor.api_key(request)
        )
        return Response(status=status.HTTP_204_NO_CONTENT)

    def get_serializer(self, *args, **kwargs):
        # The health is a list of rows (no pages): described as one, as drf-spectacular reads it here.
        if self.action == "health":
            kwargs["many"] = True
        return super().get_serializer(*args, **kwargs)

    @extend_schema(
        summary="List the health of every config",
        description="One row per config of the project, newest change first, saying how its source is "
        "doing from the runs its processor reported. `state` is the first of these that holds:\n\n"
        + "\n".join(f"- `{name}`: {meaning}" for name, meaning in health.STATES.items()),
        parameters=[
            OpenApiParameter(
                "state",
                OpenApiTypes.STR,
                enum=list(health.STATES),
                description="Only the configs in this state.",
            )
        ],
        filters=False,
    )
    @action(detail=False, methods=["get"], serializer_class=SignalSourceConfigHealthSerializer, pagination_class=None)
    def health(self, request, *args, **kwargs):
        wanted = request.query_params.get("state")
        if wanted is not None and wanted not in health.STATES:
            raise exceptions.ValidationError(
                {"state": [exceptions.ErrorDetail(f'"{wanted}" is not a valid state.', code="invalid_choice")]}
            )
        configs = list(self.get_queryset())
        rows = [row for row in health.health_of(configs) if wanted is None or row.state == wanted]
        return Response(SignalSourceConfigHealthSerializer(rows, many=True).data)

    @extend_schema(
        summary="Create or change several configs at once",
        request=BulkRequestSerializer,
        filters=False,
    )
    @action(detail=False, methods=["post"], serializer_class=BulkResponseSerializer)
    def bulk(self, request, *args, **kwargs):
        return respond_idempotently(self, request, lambda: self._apply_bulk(request))

    def _apply_bulk(self, request):
        serializer = BulkRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        atomic, operations = serializer.validated_data["atomic"], serializer.validated_data["operations"]
        charge(request, self, len(operations) - 1)  # the request itself was counted as one
        for operation in operations:
            operation["precondition"] = Precondition(operation.pop("if_match", None))
            if "config" in operation:
                operation["config_patch"] = operation.pop("config")
        options = {
            "created_by": request.user,
            "with_defaults": self.fill_new_config_defaults,
            "refuse_retired_types": self.refuse_retired_types,
            "actor": Actor.api_key(request),
        }
        try:
            outcomes = services.apply_bulk(project=self.project, operations=operations, atomic=atomic, **options)
        except services.BulkRefused as refused:
            results = [
                self._bulk_result(operation, outcome, applied=False)
                for operation, outcome in zip(operations, refused.results, strict=True)
            ]
            refused_count = sum(result["error"]["code"] != BULK_NOT_APPLIED["code"] for result in results)
            detail = f"{refused_count} of {len(results)} operations were refused, so none was applied (atomic)."
            body = {"type": "validation_error", "code": "bulk_refused", "detail": detail, "attr": "operations"}
            return Response({**body, "results": results}, status=status.HTTP_400_BAD_REQUEST)
        results = [self._bulk_result(op, outcome) for op, outcome in zip(operations, outcomes, strict=True)]
        return Response({"atomic": atomic, "results": results})

    def _bulk_result(self, operation, outcome, applied=True) -> dict:
        result = {"source_product": operation["source_product"], "source_type": operation["source_type"]}
        if isinstance(outcome, Exception):
            answer = exception_handler(outcome, {"view": self, "request": self.request})
            return {**result, "status": answer.status_code, "etag": None, "config": None, "error": dict(answer.data)}
        if not applied:
            return {**result, "status": 424, "etag": None, "config": None, "error": BULK_NOT_APPLIED}
        instance, what = outcome
        answer = {services.CREATED: 201, services.UPDATED: 200, services.UNCHANGED: 304}[what]
        config = SignalsSourceConfigSerializer(instance).data
        return {**result, "status": answer, "etag": etag_for(instance), "config": config, "error": None}

    def finalize_response(self, request, response, *args, **kwargs):
        # Every 400 of a bulk has `results` (null when the request itself is refused), as described.
        if self.action == "bulk" and response.status_code == 400 and isinstance(response.data, dict):
            response.data.setdefault("results", None)
        return super().finalize_response(request, response, *args, **kwargs)


class RunFinishedConflict(Conflict):
    default_detail = runs.FINISHED_MESSAGE
    default_code = runs.RunFinished.code


class SignalSourceRunActions:
    """The runs' actions, below `IdempotentCreateMixin` in the viewset (its `create` calls this one)."""

    def get_project_queryset(self, queryset):
        return queryset.filter(config_id=self.config.pk)

    @property
    def config(self) -> SignalSourceConfig:
        # The URL's config, in the URL's project: another project's config is a 404 like an unknown one.
        if not hasattr(self, "_config"):
            if getattr(self, "swagger_fake_view", False):
                self._config = SignalSourceConfig()
            else:
                config = selectors.project_config(project_id=self.project.id, pk=self.kwargs.get("config_id"))
                if config is None:
                    raise exceptions.NotFound()
                self._config = config
        return self._config

    def list(self, request, *args, **kwargs):
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(SignalSourceRunSerializer(page, many=True).data)

    def retrieve(self, request, *args, **kwargs):
        return Response(SignalSourceRunSerializer(self.get_object()).data)

    def create(self, request, *args, **kwargs):
        config = self.config
        serializer = SignalSourceRunStartSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        run = runs.start_run(
            config, started_at=serializer.validated_data.get("started_at"), actor=Actor.api_key(request)
        )
        return Response(SignalSourceRunSerializer(run).data, status=status.HTTP_201_CREATED)

    def partial_update(self, request, *args, **kwargs):
        run = self.get_object()
        serializer = SignalSourceRunReportSerializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        run = runs.report_run(run, actor=Actor.api_key(request), **serializer.validated_data)
        return Response(SignalSourceRunSerializer(run).data)


# On the class: the create drf-spectacular reads is IdempotentCreateMixin's, which calls ours. Only the
# requests: the responses are the view's serializer, with the errors `api/schema.py` adds.
@extend_schema_view(
    create=extend_schema(request=SignalSourceRunStartSerializer),
    partial_update=extend_schema(request=SignalSourceRunReportSerializer),
)
class SignalSourceRunViewSet(IdempotentCreateMixin, SignalSourceRunActions, ProjectScopedViewSet):
    """A config's processing runs (`.../signals/source_configs/{config_id}/runs/`): its processor
    starts one, reports progress and finishes it; the config's `status` follows."""

    scope_object = "task"
    queryset = SignalSourceRun.objects.order_by("-started_at", "-id")
    serializer_class = SignalSourceRunSerializer
    http_method_names = ["get", "post", "patch", "head"]
    lookup_url_kwarg = "run_id"
    openapi_by_action = {
        "partial_update": {"errors": {"409": (RunFinishedConflict, "The run has finished (or went stale).")}}
    }
