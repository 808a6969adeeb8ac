from rest_framework import permissions

from auth_keys.models import PersonalAPIKey


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
