"""The scopes a personal API key may carry, and how an action maps to the scope it needs."""

# Scope objects, as `<object>:read` / `<object>:write`. Add an object here to make its scopes valid.
SCOPE_OBJECTS = ("task",)
ALL_SCOPES = "*"
VALID_SCOPES = frozenset({ALL_SCOPES} | {f"{obj}:{level}" for obj in SCOPE_OBJECTS for level in ("read", "write")})

# Which access level each viewset action needs. An action missing here is refused.
ACTION_ACCESS = {
    "list": "read",
    "retrieve": "read",
    "create": "write",
    "partial_update": "write",
    "destroy": "write",
}


def validate_scopes(scopes) -> list[str]:
    """Returns the scopes deduplicated and in a stable order, or raises ValueError."""
    if not isinstance(scopes, list | tuple) or not scopes:
        raise ValueError("At least one scope is required.")
    unknown = sorted({str(s) for s in scopes} - VALID_SCOPES)
    if unknown:
        raise ValueError(f"Unknown scope(s): {', '.join(unknown)}. Valid scopes: {', '.join(sorted(VALID_SCOPES))}.")
    return sorted(set(scopes))


def grants(key_scopes: list[str], required: str) -> bool:
    """`*` grants everything and `<object>:write` also grants `<object>:read`."""
    if ALL_SCOPES in key_scopes or required in key_scopes:
        return True
    obj, _, level = required.partition(":")
    return level == "read" and f"{obj}:write" in key_scopes
