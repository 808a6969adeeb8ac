"""The API's view of a config. Serializers check types and shapes only; every rule about the data
(valid pairs, a fixed source, config rules, uniqueness) is the services' (`services.py`)."""

import copy

import orjson
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from . import catalog
from .models import SignalSourceConfig
from .schema import CONFIG_SCHEMA, STATUS_SCHEMA, create_example, partial_update_example


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


class SignalSourceConfigSerializer(serializers.ModelSerializer):
    source_product = serializers.ChoiceField(choices=catalog.PRODUCT_CHOICES)
    source_type = serializers.ChoiceField(choices=catalog.TYPE_CHOICES)
    # Declared so that a form body without `enabled` means the default, not an unticked checkbox.
    enabled = serializers.BooleanField(default=True)
    config = ConfigField(default=dict)
    status = StatusField(read_only=True, allow_null=True)

    class Meta:
        model = SignalSourceConfig
        fields = ["id", *SignalSourceConfig.WRITABLE_FIELDS, "created_at", "updated_at", "status"]
        read_only_fields = ["id", "created_at", "updated_at", "status"]
        # Fixed once the config exists: a PATCH body's description leaves them out (the server
        # still accepts the config's own values there, as PostHog's does).
        create_only_fields = SignalSourceConfig.SOURCE_FIELDS

    def schema_request_example(self, partial: bool) -> dict:
        """The OpenAPI description's request example (`api/schema.py`)."""
        return partial_update_example() if partial else create_example()

    def get_fields(self):
        # ModelSerializer rebuilds its fields from the model for every serializer (a fifth of a
        # retrieve's serializing time); they depend only on the class, so build once and copy.
        cls = type(self)
        if "_built_fields" not in cls.__dict__:
            cls._built_fields = super().get_fields()
        return copy.deepcopy(cls._built_fields)
