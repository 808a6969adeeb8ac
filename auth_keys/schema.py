"""How personal API key authentication appears in the OpenAPI description."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension

from .scopes import required_scope


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
