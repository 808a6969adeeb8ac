"""The OpenAPI description's PostHog-facing details, on top of what drf-spectacular infers.

Everything here is derived from the code it describes (the views' `scope_object`, the scope map, the
catalog), so the description cannot drift from the behaviour. `make openapi` writes `openapi.yaml`.
"""

from drf_spectacular import openapi
from drf_spectacular.extensions import OpenApiAuthenticationExtension, OpenApiSerializerExtension
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse
from rest_framework import serializers

from auth_keys.scopes import ACTION_ACCESS

from . import catalog
from .models import ProcessingStatus

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
    "partial_update": ("400", "401", "403", "404"),
    "destroy": ("401", "403", "404"),
}


def required_scope(view) -> str | None:
    """The scope an action of a view needs, as `APIScopePermission` checks it."""
    scope_object = getattr(view, "scope_object", None)
    access = ACTION_ACCESS.get(getattr(view, "action", None) or "")
    return f"{scope_object}:{access}" if scope_object and access else None


class AutoSchema(openapi.AutoSchema):
    """Operation ids and tags named like PostHog's (`<basename>_<action>`), the project id documented
    as the string PostHog publishes, and the error responses documented with their body."""

    def get_operation_id(self) -> str:
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

    def _map_basic_serializer(self, serializer, direction):
        schema = super()._map_basic_serializer(serializer, direction)
        if getattr(serializer, "partial", False):
            # A partial update applies no defaults: a field left out keeps its value. A documented
            # default would make generated clients send it, and so overwrite that value.
            for field_schema in schema.get("properties", {}).values():
                field_schema.pop("default", None)
        return schema

    def _get_filter_parameters(self):
        parameters = super()._get_filter_parameters()
        for parameter in parameters:
            schema = parameter.get("schema", {})
            # django-filter's extension documents a true/false choice as a boolean with string values.
            if schema.get("type") == "boolean" and "enum" in schema:
                del schema["enum"]
                parameter["description"] = "`true` or `false`; any other value answers 400."
        return parameters

    def _get_request_body(self, direction="request"):
        request_body = super()._get_request_body(direction)
        serializer = self.get_request_serializer()
        json_fields = [name for name, field in getattr(serializer, "fields", {}).items() if _is_json_field(field)]
        if request_body and json_fields:
            # In a form body, DRF reads a JSONField as a JSON-encoded string.
            for media_type, body in request_body["content"].items():
                if media_type in FORM_MEDIA_TYPES:
                    body["encoding"] = {name: {"contentType": "application/json"} for name in json_fields}
        return request_body

    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        for code in ACTION_ERRORS.get(getattr(self.view, "action", None), ()):
            responses[code] = self._get_response_for_code(
                OpenApiResponse(ErrorSerializer, description=ERROR_RESPONSES[code]), code, direction=direction
            )
        return responses


class PersonalAPIKeyAuthScheme(OpenApiAuthenticationExtension):
    """`Authorization: Bearer phx_...`; each operation names the scope it needs."""

    target_class = "auth_keys.authentication.PersonalAPIKeyAuthentication"
    name = "PersonalAPIKeyAuth"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "A personal API key (`phx_...`), sent as `Authorization: Bearer <key>`. "
            "Each operation names the scope it needs; `task:write` also grants `task:read`.",
        }

    def get_security_requirement(self, auto_schema):
        scope = required_scope(auto_schema.view)
        return {self.name: [scope] if scope else []}


def config_schema() -> dict:
    """The `config` object: its known keys from the catalog, and any other key kept as sent.

    A key that only some sources check (`sample_rate`, ...) is kept as sent by the others, so its
    schema cannot constrain the value for every config; its rule is given per source in
    `x-checked-for` instead. Keys every source checks are typed in the schema itself.
    """
    checked_for: dict[str, dict[str, dict]] = {}
    descriptions: dict[str, str] = {}
    for source in catalog.SOURCES:
        for rule in source.config_rules:
            checked_for.setdefault(rule.key, {})[f"{source.product}/{source.type}"] = rule.schema
            descriptions.setdefault(rule.key, rule.description)
    properties = {
        key: {
            "description": f"{descriptions[key]} Checked for {', '.join(sources)}; other sources keep it as sent.",
            "x-checked-for": sources,
        }
        for key, sources in checked_for.items()
    }
    for rule in catalog.COMMON_CONFIG_RULES:
        properties[rule.key] = {**rule.schema, "description": f"{rule.description} Checked for every source."}
    return {
        "type": "object",
        "additionalProperties": True,
        "properties": properties,
        "description": "Settings of this source. Known keys are checked; other keys are kept as sent. "
        "Replaced as a whole on update. No string in it may contain a NUL character, and its JSON "
        f"form is at most {catalog.MAX_CONFIG_BYTES // 1024} KiB. In form bodies, a JSON-encoded string.",
    }


class SignalSourceConfigSerializerExtension(OpenApiSerializerExtension):
    """Documents `status` as PostHog does (a nullable read-only string) and `config`'s known keys."""

    target_class = "signalsource.serializers.SignalSourceConfigSerializer"

    def map_serializer(self, auto_schema, direction):
        schema = auto_schema._map_serializer(self.target, direction, bypass_extensions=True)
        properties = schema["properties"]
        if "status" in properties:
            values = ", ".join(f"`{value}`" for value in ProcessingStatus.values)
            properties["status"] = {
                "type": "string",
                "nullable": True,
                "readOnly": True,
                "description": f"State of the source's latest processing run: {values}, or null when unknown.",
            }
        if "config" in properties:
            properties["config"] = {**config_schema(), **_keep(properties["config"], "default")}
        return schema


def _keep(schema: dict, *keys: str) -> dict:
    return {key: schema[key] for key in keys if key in schema}


def _is_json_field(field) -> bool:
    return isinstance(field, serializers.JSONField) and not field.read_only
