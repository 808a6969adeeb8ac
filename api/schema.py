"""The OpenAPI conventions every project-scoped route shares, on drf-spectacular's public hooks:
PostHog's operation ids and tags, summaries, the project id documented as the string PostHog
publishes, each action's error responses with a correct example per status, JSON request bodies
with a serializer's own example, every always-present response field required, and no defaults
(and no create-only fields) in PATCH bodies.

Resource-specific pieces live beside what they describe: the key scheme in `auth_keys/schema.py`,
the `config` and `status` fields in `signalsource/schema.py`. `make openapi` writes `openapi.yaml`.
"""

import copy
import json

from django_filters.utils import translate_validation
from drf_spectacular import openapi
from drf_spectacular.extensions import OpenApiSerializerExtension
from drf_spectacular.plumbing import ResolvedComponent, force_instance, is_serializer
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiRequest, OpenApiResponse
from rest_framework import exceptions, serializers
from rest_framework.exceptions import ErrorDetail

from auth_keys.scopes import required_scope

from . import idempotency
from .body import LengthRequired, too_large_body
from .exceptions import DB_RETRY_AFTER_SECONDS, ServerError, ServiceUnavailable, exception_handler
from .pagination import LimitOffsetPagination
from .parsers import MERGE_PATCH_MEDIA_TYPE
from .throttling import PERIOD_SECONDS
from .viewsets import MAX_PROJECT_ID

MERGE_PATCH_DESCRIPTION = (
    "A JSON merge patch (RFC 7396), sent with `Content-Type: application/merge-patch+json`: what it leaves "
    "out keeps its stored value, and each object in it is merged into the stored one."
)
MERGED_OBJECT = {
    "type": "object",
    "additionalProperties": True,
    "description": "Merged into the stored object key by key: a key set to `null` is removed, an object merges "
    "recursively, any other value replaces the stored one. The result is checked as a whole, as a JSON body's is.",
}

PROJECT_ID_DESCRIPTION = (
    "Project ID of the project you're trying to access. An operator finds it in the admin's project "
    "list; `make run` prints the demo project's."
)

ERROR_TYPES = [
    ("validation_error", "The body or a parameter breaks a rule (400)."),
    ("authentication_error", "No valid API key (401), or the key may not do this (403)."),
    ("invalid_request", "No such project, object, route or method (404, 405), a body sent chunked "
     "(411), too large (413), of an unsupported media type (415) or unreadable (400)."),
    ("throttled_error", "Too many requests with this key (429)."),
    ("server_error", "The service failed (5xx); the body also carries a `request_id`."),
]  # fmt: skip


class ErrorSerializer(serializers.Serializer):
    """Every 4xx error, in PostHog's flat format (only the first error is reported)."""

    type = serializers.ChoiceField(choices=ERROR_TYPES, help_text="The kind of error.")
    code = serializers.CharField(help_text="The error's code, e.g. `required`, `not_found`, `permission_denied`.")
    detail = serializers.CharField(help_text="A message for people.")
    attr = serializers.CharField(
        allow_null=True,
        help_text="The field the error is about, nested fields joined by `__`; null when none. "
        "Every error about a config's content has `attr` `config`, and its `detail` names the key at fault.",
    )


class ServerErrorSerializer(ErrorSerializer):
    """A 5xx error: the flat format plus the request id to quote when reporting it."""

    request_id = serializers.CharField(help_text="The request's id (also in the `X-Request-ID` response header).")


SAMPLE_RATE_ERROR = "sample_rate must be a number between 0 and 1"
# Each status the project-scoped routes answer, with what it means and an error the server answers
# with it: its example is the body the exception handler (or, for a body too large, the middleware)
# makes of that error, so that it cannot drift from it.
# (405 is not an operation's: it answers a method a route does not take; see the API description.)
ERROR_RESPONSES = {
    "400": (
        "Invalid input: the body, a filter or a field breaks a rule. Nothing was changed.",
        exceptions.ValidationError({"config": [ErrorDetail(SAMPLE_RATE_ERROR, code="invalid_input")]}),
    ),
    "401": ("No API key, or the key is unknown, revoked or expired.", exceptions.NotAuthenticated()),
    "403": (
        "The key lacks the scope, is limited to other projects or organizations, "
        "or its user is not a member of the project's organization.",
        exceptions.PermissionDenied(),
    ),
    "404": ("The project, or the object in that project, does not exist.", exceptions.NotFound()),
    "411": ("The request body was sent chunked; send it with a Content-Length.", LengthRequired()),
    "413": ("The request body is larger than the service takes.", None),  # `api.body.too_large_body`
    "415": ("The body's media type is not JSON, a form or multipart.", exceptions.UnsupportedMediaType("text/plain")),
    "429": (
        "Too many requests with this key; the `Retry-After` header says when to try again.",
        exceptions.Throttled(wait=30),
    ),
    "500": ("The service failed; quote the `request_id` when reporting it.", ServerError()),
    "503": ("The database is unavailable; the `Retry-After` header says when to try again.", ServiceUnavailable()),
}
EXAMPLE_REQUEST_ID = "5f0c6f1e-6c1b-4a5e-9a57-1d2f3b4c5d6e"
# What every operation of a project-scoped route may answer, and what one with a body adds.
EVERY_ACTIONS_ERRORS = ("401", "403", "404", "429", "500", "503")
BODY_ERRORS = ("400", "411", "413", "415")
BODY_METHODS = ("POST", "PUT", "PATCH")
SUMMARIES = {
    "list": "List {plural}",
    "create": "Create a {name}",
    "retrieve": "Get a {name}",
    "update": "Replace a {name}",
    "partial_update": "Change a {name}",
    "destroy": "Delete a {name}",
}

# An operation's description when its view says nothing more (every operation has one).
DESCRIPTIONS = {
    "list": "The project's {plural}, a page at a time.",
    "create": "Creates a {name} in the project.",
    "retrieve": "The project's {name} with this id.",
    "update": "Replaces the {name}'s fields with the body's.",
    "partial_update": "Changes the fields the body sends; the others keep their values.",
    "destroy": "Deletes the {name}.",
}


BAD_FILTER_VALUE = "maybe"


def answered_body(exception) -> dict:
    """The body the exception handler answers `exception` with."""
    return dict(exception_handler(exception, {}).data)


def list_bad_request(view) -> tuple | None:
    """A list's 400, which is about a filter: the first of the view's filters that refuses a made-up
    value, with the code and message that filter answers (so the example cannot drift from it).
    None when no filter refuses anything."""
    filterset_class = getattr(view, "filterset_class", None)
    if filterset_class is None:
        return None
    for name in filterset_class.base_filters:
        filterset = filterset_class(data={name: BAD_FILTER_VALUE}, queryset=view.queryset.none())
        if not filterset.is_valid():
            # As django-filter's backend raises it.
            return "A filter has an invalid value. Nothing is listed.", translate_validation(filterset.errors)
    return None


def error_example(status_code: str, description: str, body: dict) -> OpenApiResponse:
    """An error response with `body`, a body the server sends, as its example."""
    serializer = ErrorSerializer
    if status_code.startswith("5"):
        body = {**body, "request_id": EXAMPLE_REQUEST_ID}
        serializer = ServerErrorSerializer
    example = OpenApiExample(body["code"], value=body, status_codes=[status_code], response_only=True)
    return OpenApiResponse(serializer, description=description, examples=[example])


def error_response(code: str, view) -> OpenApiResponse:
    documented = list_bad_request(view) if (view.action, code) == ("list", "400") else ERROR_RESPONSES[code]
    description, error = documented
    if code == "403" and (scope := required_scope(view)):
        error = exceptions.PermissionDenied(f"API key missing required scope '{scope}'")
    body = too_large_body() if error is None else answered_body(error)
    return error_example(code, description, body)


def exception_response(status_code: str, exception_class, description: str) -> OpenApiResponse:
    """The response to one of the API's exception classes, with the body the server sends for it."""
    return error_example(status_code, description, answered_body(exception_class()))


class AutoSchema(openapi.AutoSchema):
    """The shared conventions, plus what the view's mixins contribute to each action's operation:
    a class attribute `openapi_by_action = {action: {"headers": [...], "responses": {status:
    description}, "errors": {status: (exception class, description)}, "bodies": {status: (serializer,
    description)}, "success": status (when not the method's usual one), "description": "..."}}`."""

    def _action(self) -> str | None:
        return getattr(self.view, "action", None)

    def _contributions(self, part: str) -> list:
        """The view's classes' contributions to `part` of this action's operation, base classes first."""
        found = []
        for klass in reversed(type(self.view).__mro__):
            contribution = klass.__dict__.get("openapi_by_action", {}).get(self._action(), {})
            if part in contribution:
                found.append(contribution[part])
        return found

    def _errors(self) -> tuple[str, ...]:
        if getattr(self.view, "scope_object", None) is None:  # not a project-scoped route
            return ()
        errors = (*BODY_ERRORS, *EVERY_ACTIONS_ERRORS) if self.method in BODY_METHODS else EVERY_ACTIONS_ERRORS
        if self._action() == "list" and list_bad_request(self.view) is not None:
            errors = ("400", *errors)  # a 400 for a bad filter value
        return errors

    def get_operation_id(self) -> str:
        # PostHog's: `<basename>_<action>`, e.g. `signal_source_configs_list`.
        basename = getattr(self.view, "basename", None)
        action = getattr(self.view, "action", None)
        return f"{basename}_{action}" if basename and action else super().get_operation_id()

    def get_tags(self) -> list[str]:
        basename = getattr(self.view, "basename", None)
        return [basename] if basename else super().get_tags()

    def _by_model(self, templates: dict) -> str | None:
        """The action's template from `templates`, filled with the view's model's names."""
        queryset = getattr(self.view, "queryset", None)
        template = templates.get(self._action())
        if queryset is None or template is None:
            return None
        meta = queryset.model._meta
        return template.format(name=meta.verbose_name, plural=meta.verbose_name_plural)

    def get_summary(self):
        return self._by_model(SUMMARIES) or super().get_summary()

    def get_override_parameters(self):
        parameters = list(super().get_override_parameters())
        if "{project_id}" in self.path:
            parameters.append(
                OpenApiParameter(
                    "project_id", OpenApiTypes.STR, OpenApiParameter.PATH, description=PROJECT_ID_DESCRIPTION
                )
            )
        return parameters + [header for headers in self._contributions("headers") for header in headers]

    def get_description(self):
        description = super().get_description() or ""
        described = "\n\n".join([description, *self._contributions("description")]).strip()
        return described or self._by_model(DESCRIPTIONS) or ""

    def map_parsers(self):
        # The server also reads form and multipart bodies (`config` as a JSON-encoded string, as
        # PostHog's), but a description offering one schema under several media types breaks
        # generated clients (openapi-python-client sends both `data` and `files`): JSON only; the
        # API description says the others are accepted.
        return ["application/json"]

    def get_request_serializer(self):
        serializer = super().get_request_serializer()
        example = getattr(serializer, "schema_request_example", None) if is_serializer(serializer) else None
        if example is None:
            return serializer
        # By method: drf-spectacular marks a PATCH's serializer partial only later.
        body = OpenApiRequest(serializer, examples=[example(self.method)])
        if self.method != "PATCH" or not any(self._contributions("merge_patch")):
            return body
        # JSON first (generators that take one media type take the first). The merge patch has a
        # component of its own, so that a generated client tells the two bodies apart by type (with
        # one schema under both, openapi-python-client sends every PATCH as a merge patch).
        merge_example = example(self.method, MERGE_PATCH_MEDIA_TYPE)
        merge_patch = OpenApiRequest(self._merge_patch_component(serializer, merge_example), examples=[merge_example])
        return {"application/json": body, MERGE_PATCH_MEDIA_TYPE: merge_patch}

    def _merge_patch_component(self, serializer, merge_example: OpenApiExample) -> dict:
        """A reference to the component of `serializer`'s PATCH body read as an RFC 7396 merge patch:
        `<Name>MergePatch`, its object fields merged key by key rather than replaced. The example is
        also the schema's: Swagger UI, switched to this media type after "Try it out", fills in a
        sample built from the schema rather than the media type's example."""
        partial = copy.copy(force_instance(serializer))
        partial.partial = True
        patched = self.resolve_serializer(partial, "request")
        properties = {
            name: MERGED_OBJECT if field_schema.get("type") == "object" else field_schema
            for name, field_schema in patched.schema.get("properties", {}).items()
        }
        name = patched.name.removeprefix("Patched").removesuffix("Request") + "MergePatch"
        component = ResolvedComponent(
            name=name,
            type=ResolvedComponent.SCHEMA,
            object=name,
            schema={
                "type": "object",
                "description": MERGE_PATCH_DESCRIPTION,
                "properties": properties,
                "example": merge_example.value,
            },
        )
        self.registry.register_on_missing(component)
        return component.ref

    def get_response_serializers(self):
        serializer = super().get_response_serializers()
        errors = self._errors()
        if not errors or not is_serializer(serializer):
            return serializer
        success_codes = self._contributions("success")
        success_code = success_codes[-1] if success_codes else {"DELETE": "204", "POST": "201"}.get(self.method, "200")
        responses = {success_code: None if success_code == "204" else serializer}
        responses |= {code: error_response(code, self.view) for code in errors}
        for described in self._contributions("responses"):
            responses |= {code: OpenApiResponse(description=text) for code, text in described.items()}
        for raised in self._contributions("errors"):
            responses |= {code: exception_response(code, *error) for code, error in raised.items()}
        for bodies in self._contributions("bodies"):
            responses |= {code: OpenApiResponse(body, description=text) for code, (body, text) in bodies.items()}
        return responses


class SerializerConventionsExtension(OpenApiSerializerExtension):
    """What every serializer's components follow:

    - a nested list states the item counts DRF enforces (`minItems`, `maxItems`);
    - a response names every field required: a serializer always writes every field it has (null
      where there is no value), so a client need not test for absent ones;
    - a request body documents no `default` (a create's is said in words): generators make such a
      field required, and in a partial update (PATCH), where a field left out keeps its value, a
      client sending the default would overwrite that value;
    - a partial update's body leaves out the serializer's `Meta.create_only_fields` (fixed once the
      object exists).
    """

    target_class = serializers.Serializer
    match_subclasses = True
    priority = -1  # any serializer's own extension comes first

    def map_serializer(self, auto_schema, direction):
        schema = auto_schema._map_serializer(self.target, direction, bypass_extensions=True)
        properties = schema.get("properties", {})
        for name, field in getattr(self.target, "fields", {}).items():
            # drf-spectacular leaves out a nested list's `min_length` and `max_length` (DRF enforces them).
            if isinstance(field, serializers.ListSerializer) and name in properties:
                limits = {"minItems": field.min_length, "maxItems": field.max_length}
                properties[name] |= {key: value for key, value in limits.items() if value is not None}
        if direction == "response":
            schema["required"] = list(properties)
        else:
            if getattr(self.target, "partial", False):
                for name in getattr(getattr(self.target, "Meta", None), "create_only_fields", ()):
                    properties.pop(name, None)
            for field_schema in properties.values():
                default = field_schema.pop("default", None)
                if default is not None and not getattr(self.target, "partial", False):
                    # In words: generators make a field with a `default` required in the body
                    # (openapi-typescript's defaultNonNullable), which it is not.
                    said = json.dumps(default)
                    field_schema["description"] = f"{field_schema.get('description', '')} Default: `{said}`.".strip()
        return schema


NULL = {"type": "null"}
NULL_ENUM = "#/components/schemas/NullEnum"  # drf-spectacular's enum hook's `enum: [null]`


def nullable_as_openapi_31(result, generator, request, public):
    """drf-spectacular postprocessing hook: the 3.0 `nullable` that hand-written schemas and
    drf-spectacular's enum hook still write becomes OpenAPI 3.1's null, in the form every generator
    reads as "this value or null" with its default options:

    - a typed value: `type: [its type, "null"]`;
    - an enum that lists null, or a reference: `oneOf: [the enum or reference, {type: "null"}]` (null
      inside `enum` makes openapi-zod-client write `z.enum([..., null])`, which `tsc` refuses; the
      enum hook's `NullEnum` becomes `{type: "null"}` too);
    - a value of any JSON type: nothing to add (it already includes null; drf-spectacular's own
      `oneOf: [{}, {type: "null"}]` for it is one that null breaks, as null matches both).

    (datamodel-code-generator, with its default flags, reads 3.0's `nullable` on a required field
    as not null: only 3.1's null type tells it.)
    """

    def convert(node: dict) -> dict:
        if not node.pop("nullable", False):
            return node
        annotations = {key: node.pop(key) for key in ("description", "readOnly", "writeOnly") if key in node}
        enum = node.get("enum")
        if enum is not None:
            node["enum"] = [value for value in enum if value is not None]
            if node["enum"] == []:  # drf-spectacular's NullEnum
                return {**NULL, **annotations}
        kind = node.get("type")
        if isinstance(kind, str) and enum is None:
            return {**node, "type": [kind, "null"], **annotations}
        if kind is None and enum is None and not any(name in node for name in ("allOf", "oneOf", "anyOf", "$ref")):
            return {**node, **annotations}  # any JSON value
        if list(node) == ["allOf"] and len(node["allOf"]) == 1:
            node = node["allOf"][0]
        elif list(node) == ["oneOf"]:
            return {"oneOf": [*node["oneOf"], NULL], **annotations}
        return {"oneOf": [node, NULL], **annotations}

    def visit(node):
        if isinstance(node, list):
            return [visit(item) for item in node]
        if not isinstance(node, dict):
            return node
        if node == {"$ref": NULL_ENUM}:
            return NULL
        node = convert({key: visit(value) for key, value in node.items()})
        if {} in node.get("oneOf", ()):
            # drf-spectacular's nullable JSON field, `oneOf: [{}, null]`: null matches both, which
            # `oneOf` forbids. Any JSON value already includes null.
            del node["oneOf"]
        return node

    result["components"] = visit(result.get("components", {}))
    result["components"].get("schemas", {}).pop(NULL_ENUM.rsplit("/", 1)[1], None)
    result["paths"] = visit(result.get("paths", {}))
    return result


PAGE_LIMIT = {"format": "int32", "minimum": 1, "maximum": LimitOffsetPagination.max_limit}
ID_RANGE = {"format": "int64", "minimum": 1, "maximum": MAX_PROJECT_ID}
# The limits of each parameter, as the server enforces them (or, for the lenient pagination
# parameters, as it reads them: a value outside falls back or is clamped, as each one's description
# says). Strings the server matches exactly (a filter's value, a cursor, the path's project id) have
# none: another value matches nothing (a 404 for a project id), it is not refused as invalid.
PARAMETER_LIMITS = {
    ("header", idempotency.HEADER): {
        "minLength": 1,
        "maxLength": idempotency.MAX_KEY_LENGTH,
        "pattern": "^[ -~]+$",  # printable ASCII
    },
    ("query", "limit"): PAGE_LIMIT,
    ("query", "page_size"): PAGE_LIMIT,
    ("query", "offset"): {"format": "int64", "minimum": 0, "maximum": LimitOffsetPagination.max_offset},
    ("query", "page"): ID_RANGE,
    ("query", "user"): ID_RANGE,
}
# What the server sends with a 429 (the throttle's wait, whole seconds: at most one period of the
# longest rate unit) and a 503 (DB_RETRY_AFTER_SECONDS).
RETRY_AFTER = {
    "429": {
        "schema": {"type": "integer", "format": "int32", "minimum": 1, "maximum": max(PERIOD_SECONDS.values())},
        "description": "Seconds until this key's requests are counted again.",
    },
    "503": {
        "schema": {"type": "integer", "format": "int32", "minimum": 1, "maximum": DB_RETRY_AFTER_SECONDS},
        "description": "Seconds to wait before trying again.",
    },
}


def limits_and_retry_after(result, generator, request, public):
    """drf-spectacular postprocessing hook: each parameter's `PARAMETER_LIMITS`, and the
    `Retry-After` header on every 429 and 503 response."""
    for path_item in result.get("paths", {}).values():
        for operation in path_item.values():
            for parameter in operation.get("parameters", ()):
                parameter["schema"] |= PARAMETER_LIMITS.get((parameter["in"], parameter["name"]), {})
            for code, response in operation.get("responses", {}).items():
                if code in RETRY_AFTER:
                    response.setdefault("headers", {})["Retry-After"] = RETRY_AFTER[code]
    return result
