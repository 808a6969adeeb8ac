"""The OpenAPI conventions every project-scoped route shares, on drf-spectacular's public hooks:
PostHog's operation ids and tags, the project id documented as the string PostHog publishes, each
action's error responses with their body, form bodies' JSON fields, and no defaults in PATCH bodies.

Resource-specific pieces live beside what they describe: the key scheme in `auth_keys/schema.py`,
the `config` and `status` fields in `signalsource/serializers.py`. `make openapi` writes `openapi.yaml`.
"""

from drf_spectacular import openapi
from drf_spectacular.extensions import OpenApiSerializerExtension
from drf_spectacular.plumbing import is_serializer
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiRequest, OpenApiResponse
from rest_framework import serializers

PROJECT_ID_DESCRIPTION = (
    "Project ID of the project you're trying to access. To find the ID of the project, make a call to /api/projects/."
)

ERROR_TYPES = [
    ("validation_error", "The body or a parameter breaks a rule (400)."),
    ("authentication_error", "No valid API key (401), or the key may not do this (403)."),
    ("invalid_request", "No such project, object, route or method (404, 405), or an unreadable body."),
    ("throttled_error", "Too many requests with this key (429)."),
    ("server_error", "The service failed (5xx); the body also carries a `request_id`."),
]


class ErrorSerializer(serializers.Serializer):
    """Every error, in PostHog's flat format (only the first error is reported)."""

    type = serializers.ChoiceField(choices=ERROR_TYPES, help_text="The kind of error.")
    code = serializers.CharField(help_text="The error's code, e.g. `required`, `not_found`, `permission_denied`.")
    detail = serializers.CharField(help_text="A message for people.")
    attr = serializers.CharField(
        allow_null=True, help_text="The field the error is about, nested fields joined by `__`; null when none."
    )


FORM_MEDIA_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")

# Which errors each action can answer (a list is 400 for a bad filter value).
ERROR_RESPONSES = {
    "400": "Invalid input: the body, a filter or a field breaks a rule. Nothing was changed.",
    "401": "No API key, or the key is unknown, revoked or expired.",
    "403": "The key lacks the scope, is limited to other projects or organizations, "
    "or its user is not a member of the project's organization.",
    "404": "The project, or the object in that project, does not exist.",
}
ACTION_ERRORS = {
    "list": ("400", "401", "403", "404"),
    "create": ("400", "401", "403", "404"),
    "retrieve": ("401", "403", "404"),
    "update": ("400", "401", "403", "404"),
    "partial_update": ("400", "401", "403", "404"),
    "destroy": ("401", "403", "404"),
    "activity": ("401", "403", "404"),
}


def error_responses(*codes: str) -> dict:
    """The documented error responses for these status codes, for an `extend_schema(responses=...)`
    that replaces the automatic ones."""
    return {code: OpenApiResponse(ErrorSerializer, description=ERROR_RESPONSES[code]) for code in codes}


class AutoSchema(openapi.AutoSchema):
    def get_operation_id(self) -> str:
        # PostHog's: `<basename>_<action>`, e.g. `signal_source_configs_list`.
        basename = getattr(self.view, "basename", None)
        action = getattr(self.view, "action", None)
        return f"{basename}_{action}" if basename and action else super().get_operation_id()

    def get_tags(self) -> list[str]:
        basename = getattr(self.view, "basename", None)
        return [basename] if basename else super().get_tags()

    def get_override_parameters(self):
        parameters = list(super().get_override_parameters())
        if "{project_id}" in self.path:
            parameters.append(
                OpenApiParameter(
                    "project_id", OpenApiTypes.STR, OpenApiParameter.PATH, description=PROJECT_ID_DESCRIPTION
                )
            )
        return parameters

    def get_request_serializer(self):
        serializer = super().get_request_serializer()
        json_fields = [name for name, field in getattr(serializer, "fields", {}).items() if _is_json_field(field)]
        if not is_serializer(serializer) or not json_fields:
            return serializer
        # In a form body, DRF reads a JSON field as a JSON-encoded string.
        encoding = {name: {"contentType": "application/json"} for name in json_fields}
        return {
            media_type: OpenApiRequest(serializer, encoding=encoding if media_type in FORM_MEDIA_TYPES else None)
            for media_type in self.map_parsers()
        }

    def get_response_serializers(self):
        serializer = super().get_response_serializers()
        errors = ACTION_ERRORS.get(getattr(self.view, "action", None), ())
        if not errors or not is_serializer(serializer):
            return serializer
        success_code = {"DELETE": "204", "POST": "201"}.get(self.method, "200")
        success = {success_code: None if success_code == "204" else serializer}
        return success | error_responses(*errors)


class PartialRequestSerializerExtension(OpenApiSerializerExtension):
    """A partial update (PATCH) applies no defaults: a field left out keeps its value. A documented
    default would make generated clients send it, and so overwrite that value."""

    target_class = serializers.Serializer
    match_subclasses = True
    priority = -1  # any serializer's own extension comes first

    def map_serializer(self, auto_schema, direction):
        schema = auto_schema._map_serializer(self.target, direction, bypass_extensions=True)
        if getattr(self.target, "partial", False):
            for field_schema in schema.get("properties", {}).values():
                field_schema.pop("default", None)
        return schema


def _is_json_field(field) -> bool:
    return isinstance(field, serializers.JSONField) and not field.read_only
