"""The API's view of a record, in the shape of PostHog's activity log."""

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from .models import ActivityLog

DETAIL_SCHEMA = {
    "type": "object",
    "nullable": True,
    "description": "What changed, in PostHog's `Detail` shape: `name`, `short_id`, `type`, "
    "`changes` (a list of `{type, action, field, before, after}`; `action` is `created`, `changed` or "
    "`deleted`, and a key of a JSON field is its own change, e.g. `config.steering`), `trigger` and "
    "`context` (for a signal source config: its `source_product` and `source_type`).",
    "properties": {
        "name": {"type": "string", "nullable": True},
        "short_id": {"type": "string", "nullable": True},
        "type": {"type": "string", "nullable": True},
        "changes": {
            "type": "array",
            "nullable": True,
            "items": {
                "type": "object",
                "properties": {
                    "type": {"type": "string"},
                    "action": {"type": "string", "enum": ["created", "changed", "deleted"]},
                    "field": {"type": "string", "nullable": True},
                    "before": {"nullable": True},
                    "after": {"nullable": True},
                },
            },
        },
        "trigger": {"type": "object", "nullable": True},
        "context": {"type": "object", "nullable": True, "additionalProperties": True},
    },
}


class UserBasicSerializer(serializers.Serializer):
    """PostHog's `UserBasicSerializer` fields; those our users do not have are null."""

    id = serializers.IntegerField()
    uuid = serializers.UUIDField(allow_null=True, default=None, help_text="Always null here.")
    distinct_id = serializers.CharField(allow_null=True, default=None, help_text="Always null here.")
    first_name = serializers.CharField()
    last_name = serializers.CharField()
    email = serializers.EmailField()
    is_email_verified = serializers.BooleanField(allow_null=True, default=None, help_text="Always null here.")
    hedgehog_config = serializers.JSONField(allow_null=True, default=None, help_text="Always null here.")
    role_at_organization = serializers.CharField(allow_null=True, default=None, help_text="Always null here.")

    def to_representation(self, user):
        return {
            "id": user.pk,
            "uuid": None,
            "distinct_id": None,
            "first_name": user.first_name,
            "last_name": user.last_name,
            "email": user.email,
            "is_email_verified": None,
            "hedgehog_config": None,
            "role_at_organization": None,
        }


@extend_schema_field(DETAIL_SCHEMA)
class DetailField(serializers.JSONField):
    pass


class ActivityLogSerializer(serializers.ModelSerializer):
    user = UserBasicSerializer(read_only=True, allow_null=True, help_text="Who made the change; null for the system.")
    unread = serializers.SerializerMethodField(help_text="Always false: this service keeps no notifications.")
    organization_id = serializers.SerializerMethodField(help_text="The project's organization.")
    detail = DetailField(read_only=True)
    actor = serializers.CharField(
        read_only=True,
        help_text="[ours] How the change arrived: the API key's mask (e.g. `phx_...a1b2`), `admin`, "
        "a management command's name, or `system`.",
    )
    request_id = serializers.CharField(
        read_only=True, allow_null=True, help_text="[ours] The id of the request that made the change, if any."
    )

    class Meta:
        model = ActivityLog
        fields = [
            "id",
            "user",
            "unread",
            "organization_id",
            "was_impersonated",
            "is_system",
            "activity",
            "item_id",
            "scope",
            "detail",
            "created_at",
            "actor",
            "request_id",
        ]
        read_only_fields = fields

    def get_unread(self, record) -> bool:
        return False

    def get_organization_id(self, record) -> int:
        return self.context["organization_id"]


class ItemActivityPageSerializer(serializers.Serializer):
    """A page of one object's history, in the shape of PostHog's `.../{id}/activity` routes."""

    results = ActivityLogSerializer(many=True)
    next = serializers.URLField(allow_null=True, help_text="The next page, or null.")
    previous = serializers.URLField(allow_null=True, help_text="The previous page, or null.")
    total_count = serializers.IntegerField(help_text="How many records the object has.")
