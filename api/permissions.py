"""The permissions every project-scoped view runs, in the contract's order (see `viewsets.py`)."""

from rest_framework import permissions

from auth_keys.models import PersonalAPIKey
from auth_keys.scopes import grants, required_scope


class APIScopePermission(permissions.BasePermission):
    """Requires the scope that the view's declared `scope_object` and the current action call for.

    An action with no mapping is refused, never let through; a view without `scope_object` fails
    loudly (`required_scope`).
    """

    def has_permission(self, request, view) -> bool:
        required = required_scope(view)
        if required is None:
            self.message = f"This action is not available to API keys ({view.action})."
            return False
        api_key = request.auth
        if not isinstance(api_key, PersonalAPIKey) or not grants(api_key.scopes, required):
            self.message = f"API key missing required scope '{required}'"
            return False
        return True


class ProjectAccessPermission(permissions.BasePermission):
    """The key may be limited to some projects or organizations, and its user must be a member.

    Expects `view.project` (see `ProjectScopedViewSet`), annotated with `user_is_member`.
    """

    def has_permission(self, request, view) -> bool:
        project = view.project
        api_key = request.auth
        if isinstance(api_key, PersonalAPIKey):
            if api_key.scoped_projects and project.id not in api_key.scoped_projects:
                self.message = f"API key does not have access to the requested project: ID {project.id}."
                return False
            if api_key.scoped_organizations and project.organization_id not in api_key.scoped_organizations:
                self.message = (
                    f"API key does not have access to the requested organization: ID {project.organization_id}."
                )
                return False
        if not project.user_is_member:
            self.message = "You don't have access to the project."
            return False
        return True
