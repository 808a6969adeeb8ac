from django.core.exceptions import ImproperlyConfigured
from rest_framework import permissions

from .models import PersonalAPIKey
from .scopes import ACTION_ACCESS, grants


class APIScopePermission(permissions.BasePermission):
    """Requires the scope that the view's declared `scope_object` and the current action call for.

    A view without `scope_object`, or an action with no mapping, is refused loudly, never let through.
    """

    def has_permission(self, request, view) -> bool:
        scope_object = getattr(view, "scope_object", None)
        if not scope_object:
            raise ImproperlyConfigured(f"{type(view).__name__} must declare `scope_object` to use API keys.")
        access = ACTION_ACCESS.get(getattr(view, "action", None) or "")
        if access is None:
            self.message = f"This action is not available to API keys ({view.action})."
            return False
        required = f"{scope_object}:{access}"
        api_key = request.auth
        if not isinstance(api_key, PersonalAPIKey) or not grants(api_key.scopes, required):
            self.message = f"API key missing required scope '{required}'"
            return False
        return True
