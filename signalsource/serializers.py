"""The API's view of a config. Serializers check types and shapes only; every rule about the data
(valid pairs, a fixed source, config rules, uniqueness) is the services' (`services.py`)."""

import copy

import orjson
from drf_spectacular.utils import OpenApiExample, extend_schema_field, extend_schema_serializer
from rest_framework import serializers
from rest_framework.fields import empty

from api.schema import ErrorSerializer

from . import catalog, health, runs
from .models import ProcessingStatus, SignalSourceConfig, SignalSourceRun
from .schema import CONFIG_SCHEMA, STATUS_SCHEMA, request_example


@extend_schema_field(CONFIG_SCHEMA)
class ConfigField(serializers.JSONField):
    """A JSON object. In form bodies it arrives as a JSON-encoded string."""

    default_error_messages = {"invalid": "config must be a JSON object"}

    def to_internal_value(self, data):
        if getattr(data, "is_json_string", False):
            try:
                data = orjson.loads(str(data))  # orjson takes plain str only, not subclasses
            except orjson.JSONDecodeError:
                self.fail("invalid")
        if not isinstance(data, dict):
            self.fail("invalid")
        return data


@extend_schema_field(STATUS_SCHEMA)
class StatusField(serializers.CharField):
    """PostHog documents `status` as a nullable read-only string."""


# Fields whose `to_representation` gives back a stored value unchanged (for the values the model holds:
# a bool, a string, a JSON document), so that the row can hold the value itself.
AS_STORED = (serializers.BooleanField, serializers.ChoiceField, serializers.CharField, ConfigField, StatusField)


# The model's fields a response does not show: the project is the URL's, the creator is PostHog's
# internal, and the version is sent as the ETag header.
# `run_heartbeat_at` and `status_if_stale` are the parts `status` is shown from (signalsource/health.py).
NOT_SHOWN_FIELDS = ("project", "created_by", "version", "run_heartbeat_at", "status_if_stale")


class SignalSourceConfigSerializer(serializers.ModelSerializer):
    source_product = serializers.ChoiceField(choices=catalog.PRODUCT_CHOICES)
    source_type = serializers.ChoiceField(choices=catalog.TYPE_CHOICES)
    # Declared so that a form body without `enabled` means the default, not an unticked checkbox.
    enabled = serializers.BooleanField(default=True)
    config = ConfigField(default=dict)
    status = StatusField(read_only=True, allow_null=True)

    class Meta:
        model = SignalSourceConfig
        # The id, what a client writes, then what the services write (PostHog's order).
        read_only_fields = [name for name in SignalSourceConfig.SYSTEM_FIELDS if name not in NOT_SHOWN_FIELDS]
        fields = ["id", *SignalSourceConfig.WRITABLE_FIELDS, *(name for name in read_only_fields if name != "id")]
        # Fixed once the config exists: a PATCH body's description leaves them out (the server
        # still accepts the config's own values there, as PostHog's does).
        create_only_fields = SignalSourceConfig.SOURCE_FIELDS

    def schema_request_example(self, method: str, media_type: str = "application/json") -> OpenApiExample:
        """The OpenAPI description's request example for a body sent with this method and media type
        (`api/schema.py`)."""
        return request_example(method, media_type)

    def to_representation(self, instance):
        # What ModelSerializer's walk over the fields gives, built directly: 60 us of CPU for a
        # 5-row page against 160 us (5 % of a list; 2 ms saved on a page of 100).
        # tests/signalsource/test_serializers.py holds it to DRF's own answer.
        row = {}
        for name, represent in self._representers():
            value = getattr(instance, name)
            row[name] = value if represent is None or value is None else represent(value)
        # The stored status, or what it becomes once the running runs' heartbeat is stale.
        row["status"] = health.shown_status(instance)
        return row

    @classmethod
    def _representers(cls) -> list:
        """Each field's name and how to show its value: None where the value is already what DRF's
        field would give (a bool, a string, a JSON value), else the field's `to_representation`."""
        if "_built_representers" not in cls.__dict__:
            fields = cls().fields
            cls._built_representers = [
                (name, None if type(field) in AS_STORED else field.to_representation) for name, field in fields.items()
            ]
        return cls._built_representers

    def get_fields(self):
        # ModelSerializer rebuilds its fields from the model for every serializer (a fifth of a
        # retrieve's serializing time); they depend only on the class, so build once and copy.
        # A shallow copy of each is enough: binding a field to its serializer and the PUT defaults
        # below set attributes on the copy, and nothing changes a field's shared values (choices,
        # validators). DRF's deepcopy took 0.17 ms a request, this 0.03 ms.
        cls = type(self)
        if "_built_fields" not in cls.__dict__:
            cls._built_fields = super().get_fields()
        fields = {name: copy.copy(field) for name, field in cls._built_fields.items()}
        if self.instance is not None and not self.partial:
            # A full update (PUT) leaves out what it does not send, as PostHog's does: `enabled` and
            # `config` keep their stored values rather than taking the create defaults.
            for name in SignalSourceConfig.EDITABLE_FIELDS:
                fields[name].default = fields[name].default_empty_html = empty
        return fields


@extend_schema_serializer(component_name="SignalsSourceConfig")
class SignalsSourceConfigSerializer(SignalSourceConfigSerializer):
    """A signal source config, as today's PostHog route (`signals/source_configs/`) serves it.

    A PUT must send `source_product` and `source_type` (the stored ones); `enabled` and `config` are
    replaced when sent and keep their stored values when left out (their defaults apply on create only).
    """

    # Retired types stay in the field's choices (and so in the described enum) because a config made
    # with one through the published route is read through this route too; the services refuse them
    # in writes on this route (`refuse_retired_types`).
    source_type = serializers.ChoiceField(
        choices=catalog.TYPE_CHOICES,
        help_text="Retired types (" + ", ".join(f"`{t}`" for t in sorted(catalog.RETIRED_TYPES)) + ") are refused "
        "in every write that carries `source_type`, as PostHog refuses them; older configs may still have one.",
    )


class SourceConfigUpsertSerializer(serializers.Serializer):
    """The body of an upsert by source (`PUT .../by_source/{source_product}/{source_type}/`): the
    source is the URL's. What it leaves out keeps its stored value, or takes the default on create."""

    enabled = serializers.BooleanField(required=False, help_text="Default on create: `true`.")
    config = ConfigField(
        required=False,
        help_text="Replaces the stored config; with `Content-Type: application/merge-patch+json`, merged into it. "
        "On create, the source's default keys are filled in.",
    )

    def get_fields(self):
        fields = super().get_fields()
        # A form body without `enabled` leaves it out, rather than meaning an unticked checkbox.
        fields["enabled"].default_empty_html = empty
        return fields


# --- Runs -----------------------------------------------------------------------------------------


MAX_COUNTER = 2**63 - 1  # the columns are bigints


class SignalSourceRunErrorSerializer(serializers.Serializer):
    """Why a run failed (`code` "stale" when its heartbeat stopped)."""

    code = serializers.CharField(help_text="A short, stable code for the failure, e.g. `rate_limited`.")
    message = serializers.CharField(help_text="What happened, for people. `code` and `message` together at most 4 KiB.")


class SignalSourceRunSerializer(serializers.ModelSerializer):
    """One processing run of a config's source, as its processor reported it. A run whose heartbeat
    is older than RUN_STALE_AFTER is shown `failed`, with `error.code` `stale`."""

    state = serializers.ChoiceField(choices=ProcessingStatus.choices, read_only=True)
    error = SignalSourceRunErrorSerializer(read_only=True, allow_null=True)

    class Meta:
        model = SignalSourceRun
        fields = [
            "id",
            "state",
            "started_at",
            "finished_at",
            "heartbeat_at",
            "error",
            "items_processed",
            "signals_emitted",
        ]
        read_only_fields = fields

    def to_representation(self, instance):
        row = super().to_representation(instance)
        row["state"], row["error"] = health.shown_state(instance)
        return row


class SignalSourceRunStartSerializer(serializers.Serializer):
    """Starts a run."""

    started_at = serializers.DateTimeField(required=False, help_text="When the run started (default: now).")
    state = serializers.ChoiceField(choices=runs.START_STATES, help_text="A run starts `running`.")


class SignalSourceRunReportSerializer(serializers.Serializer):
    """Reports progress (every report moves `heartbeat_at` to now; counters may only grow), or
    finishes the run with `state` `completed` or `failed`."""

    state = serializers.ChoiceField(choices=ProcessingStatus.choices, required=False)
    finished_at = serializers.DateTimeField(
        required=False, help_text="When the run finished (default: now); only with a finishing `state`."
    )
    error = SignalSourceRunErrorSerializer(
        required=False, help_text="Why the run failed: required when `state` is `failed`, refused otherwise."
    )
    items_processed = serializers.IntegerField(
        min_value=0, max_value=MAX_COUNTER, required=False, help_text="Items processed so far."
    )
    signals_emitted = serializers.IntegerField(
        min_value=0, max_value=MAX_COUNTER, required=False, help_text="Signals emitted so far."
    )


class SignalSourceRunSummarySerializer(serializers.Serializer):
    """A run in brief."""

    id = serializers.UUIDField()
    state = serializers.ChoiceField(choices=ProcessingStatus.choices)
    started_at = serializers.DateTimeField()
    finished_at = serializers.DateTimeField(allow_null=True)

    def to_representation(self, instance):
        row = super().to_representation(instance)
        row["state"] = health.shown_state(instance)[0]
        return row


class SignalSourceConfigHealthSerializer(serializers.Serializer):
    """How one config's source is doing, from the runs its processor reported."""

    id = serializers.UUIDField(source="config.id")
    source_product = serializers.CharField(source="config.source_product")
    source_type = serializers.CharField(source="config.source_type")
    enabled = serializers.BooleanField(source="config.enabled")
    status = StatusField(allow_null=True)
    last_run = SignalSourceRunSummarySerializer(allow_null=True, help_text="The latest run (by start); null when none.")
    last_success_at = serializers.DateTimeField(allow_null=True, help_text="When the last completed run finished.")
    last_failure_at = serializers.DateTimeField(
        allow_null=True, help_text="When the last failed run finished (a stale run: its last heartbeat)."
    )
    last_error = SignalSourceRunErrorSerializer(allow_null=True, help_text="The last failure's error.")
    consecutive_failures = serializers.IntegerField(help_text="Failures since the last completed run.")
    last_signal_at = serializers.DateTimeField(
        allow_null=True, help_text="When a run last reported emitting signals; null when none ever did."
    )
    state = serializers.ChoiceField(choices=health.STATE_NAMES, help_text="See the operation's description.")


class BulkOperationSerializer(serializers.Serializer):
    """One operation of a bulk: an upsert of one source's config. The services check the source."""

    source_product = serializers.CharField(max_length=64)
    source_type = serializers.CharField(max_length=64)
    enabled = serializers.BooleanField(required=False, help_text="Left out: kept, or `true` on create.")
    config = ConfigField(
        required=False,
        help_text="Merged into the stored config key by key (RFC 7396: `null` removes a key, objects merge "
        "recursively); on create, into an empty one, then the source's default keys are filled in.",
    )
    if_match = serializers.CharField(
        required=False,
        max_length=1024,
        help_text="Apply only if the config is at this ETag (as `If-Match`: one or more, `*` for any existing "
        "config); else this operation answers 412.",
    )


class BulkRequestSerializer(serializers.Serializer):
    atomic = serializers.BooleanField(
        default=True,
        help_text="`true`: every operation applies or none does (one refused: 400, nothing written). `false`: "
        "each applies on its own.",
    )
    operations = BulkOperationSerializer(
        many=True, min_length=1, max_length=100, help_text="1 to 100 operations, each naming a different source."
    )


def _or_null(component: str, description: str) -> dict:
    # `oneOf` and not drf-spectacular's `allOf` for a nullable nested object: generated clients
    # (openapi-python-client) read `allOf` + `nullable` as never null, and fail on a null.
    # (Redocly wants a `type` beside `nullable`; the generator ignores `oneOf` beside a `type`: so
    # null is the second choice.)
    return {
        "oneOf": [{"$ref": f"#/components/schemas/{component}"}, {"type": "object", "nullable": True, "enum": [None]}],
        "description": description,
    }


@extend_schema_field(_or_null("SignalsSourceConfig", "The config after the operation; null when refused."))
class _ConfigOrNull(SignalsSourceConfigSerializer):
    pass


@extend_schema_field(_or_null("Error", "Why the operation was refused; null when it applied."))
class _ErrorOrNull(ErrorSerializer):
    pass


class BulkResultSerializer(serializers.Serializer):
    """One operation's result, in the order of the request's operations."""

    status = serializers.IntegerField(
        help_text="As the operation's own request would answer: 201 created, 200 changed, 304 nothing to change "
        "(nothing written), 4xx refused (`error` says why); 424 in an atomic bulk that another operation's "
        "refusal stopped."
    )
    source_product = serializers.CharField()
    source_type = serializers.CharField()
    etag = serializers.CharField(allow_null=True, help_text="The config's ETag after the operation; null when refused.")
    config = _ConfigOrNull()  # null in its schema (`_or_null`)
    error = _ErrorOrNull()


class BulkResponseSerializer(serializers.Serializer):
    atomic = serializers.BooleanField()
    results = BulkResultSerializer(many=True)


class BulkRefusedSerializer(ErrorSerializer):
    """A refused bulk: the flat error, and, when operations were refused, every operation's result."""

    results = BulkResultSerializer(
        many=True, allow_null=True, help_text="Every operation's result; null when the request itself is refused."
    )
