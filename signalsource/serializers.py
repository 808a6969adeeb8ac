import copy

import orjson
from rest_framework import serializers

from . import catalog
from .models import SignalSourceConfig


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


class SignalSourceConfigSerializer(serializers.ModelSerializer):
    source_product = serializers.ChoiceField(choices=catalog.PRODUCT_CHOICES)
    source_type = serializers.ChoiceField(choices=catalog.TYPE_CHOICES)
    # Declared so that a form body without `enabled` means the default, not an unticked checkbox.
    enabled = serializers.BooleanField(default=True)
    config = ConfigField(default=dict)

    class Meta:
        model = SignalSourceConfig
        fields = ["id", "source_product", "source_type", "enabled", "config", "created_at", "updated_at", "status"]
        read_only_fields = ["id", "created_at", "updated_at", "status"]

    def get_fields(self):
        # ModelSerializer rebuilds its fields from the model for every serializer (a fifth of a
        # retrieve's serializing time); they depend only on the class, so build once and copy.
        cls = type(self)
        if "_built_fields" not in cls.__dict__:
            cls._built_fields = super().get_fields()
        return copy.deepcopy(cls._built_fields)

    def validate_source_product(self, value):
        return self._unchanged("source_product", value)

    def validate_source_type(self, value):
        return self._unchanged("source_type", value)

    def _unchanged(self, field_name, value):
        if self.instance is not None and getattr(self.instance, field_name) != value:
            raise serializers.ValidationError(f"{field_name} cannot be changed after creation.", code="immutable")
        return value

    def validate(self, attrs):
        product = attrs.get("source_product", getattr(self.instance, "source_product", None))
        source_type = attrs.get("source_type", getattr(self.instance, "source_type", None))
        if self.instance is None and catalog.get_source(product, source_type) is None:
            valid = ", ".join(catalog.valid_types_for(product))
            raise serializers.ValidationError(
                {"source_type": f"'{source_type}' is not a valid source_type for '{product}'. Valid types: {valid}."},
                code="invalid_pair",
            )
        if "config" in attrs:
            try:
                attrs["config"] = catalog.clean_config(product, source_type, attrs["config"])
            except catalog.ConfigError as error:
                raise serializers.ValidationError({"config": str(error)}, code="invalid") from None
        return attrs
