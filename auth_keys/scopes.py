"""The scopes a personal API key may carry, and the scope a view's action needs (the view declares it)."""

from django.core.exceptions import ImproperlyConfigured, ValidationError

# Scope objects, as `<object>:read` / `<object>:write`. Add an object here to make its scopes valid.
SCOPE_OBJECTS = ("task", "activity_log")
ALL_SCOPES = "*"
VALID_SCOPES = frozenset({ALL_SCOPES} | {f"{obj}:{level}" for obj in SCOPE_OBJECTS for level in ("read", "write")})


def required_scope(view) -> str | None:
    """The scope the view's current action needs: its declared `scope_object` and the access the
    view declares for the action (`scope_object_read_actions`, `scope_object_write_actions`), or None
    for an action it declares in neither (and so is refused). The permission that checks keys and
    the OpenAPI description both ask this one function."""
    scope_object = getattr(view, "scope_object", None)
    if not scope_object:
        raise ImproperlyConfigured(f"{type(view).__name__} must declare `scope_object` to use API keys.")
    action = getattr(view, "action", None)
    if action in getattr(view, "scope_object_read_actions", ()):
        return f"{scope_object}:read"
    if action in getattr(view, "scope_object_write_actions", ()):
        return f"{scope_object}:write"
    return None


def validate_scopes(scopes) -> list[str]:
    """Returns the scopes deduplicated and in a stable order, or raises a ValidationError on `scopes`."""
    if not isinstance(scopes, list | tuple) or not scopes:
        raise ValidationError({"scopes": ValidationError("At least one scope is required.", code="required")})
    unknown = sorted({str(s) for s in scopes} - VALID_SCOPES)
    if unknown:
        message = f"Unknown scope(s): {', '.join(unknown)}. Valid scopes: {', '.join(sorted(VALID_SCOPES))}."
        raise ValidationError({"scopes": ValidationError(message, code="invalid_choice")})
    return sorted(set(scopes))


def grants(key_scopes: list[str], required: str) -> bool:
    """`*` grants everything and `<object>:write` also grants `<object>:read`."""
    if ALL_SCOPES in key_scopes or required in key_scopes:
        return True
    obj, _, level = required.partition(":")
    return level == "read" and f"{obj}:write" in key_scopes
