"""Personal API key authentication: `Authorization: Bearer phx_...`."""

import functools
from datetime import timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db.models import Q
from django.utils import timezone
from rest_framework import authentication, exceptions

from common import sql
from common.sql import Columns
from projects.models import OrganizationMembership, Project

from . import keys
from .models import PersonalAPIKey

LAST_USED_RESOLUTION = timedelta(hours=1)


@functools.cache
def _lookup(with_project: bool) -> tuple[str, Columns, Columns, Columns | None]:
    """SQL for the key (by digest) with its whole user and, `with_project`, the project of that id
    (or NULLs) with whether the user is a member of its organization (`user_is_member`)."""
    user_model = get_user_model()
    key, user = Columns(PersonalAPIKey, "k"), Columns(user_model, "u")
    connection = sql.reading(PersonalAPIKey)
    select = f"SELECT {key.sql}, {user.sql}"
    tables = (
        f" FROM {sql.table(PersonalAPIKey)} k"
        f" JOIN {sql.table(user_model)} u ON {user.column(user_model._meta.pk.name)} = {key.column('user')}"
    )
    project = None
    if with_project:
        project = Columns(Project, "p")

        def membership(name: str) -> str:
            return "m." + connection.ops.quote_name(OrganizationMembership._meta.get_field(name).column)

        select += (
            f", {project.sql}, EXISTS(SELECT 1 FROM {sql.table(OrganizationMembership)} m"  # noqa: S608 -- names only
            f" WHERE {membership('organization')} = {project.column('organization')}"
            f" AND {membership('user')} = {key.column('user')})"
        )
        tables += f" LEFT JOIN {sql.table(Project)} p ON {project.column(Project._meta.pk.name)} = %s"
    return select + tables + f" WHERE {key.column('digest')} = %s", key, user, project


def _find_key(digest: str, project_id: int | None) -> tuple[PersonalAPIKey | None, Project | None]:
    """The key with its user and, when `project_id` is given, that project annotated with
    `user_is_member` (None when there is no such project), in one query.

    Hand-written SQL (`common.sql`) because it runs on every request: the ORM's
    `select_related("user").get(digest=...)` and a second query for the project with its membership
    cost 1.2-1.3 ms of CPU and one more round trip; this costs 0.2 ms (`bench/profile_requests.py --reads`).
    """
    query, key, user, project = _lookup(project_id is not None)
    with sql.reading(PersonalAPIKey).cursor() as cursor:
        cursor.execute(query, [project_id, digest] if project else [digest])
        row = cursor.fetchone()
    if row is None:
        return None, None
    key_end, user_end = len(key), len(key) + len(user)
    api_key = key.build(row[:key_end])
    api_key.user = user.build(row[key_end:user_end])
    found = None
    if project and row[user_end] is not None:  # the project's id: NULL when the project does not exist
        found = project.build(row[user_end:-1])
        found.user_is_member = bool(row[-1])
    return api_key, found


class PersonalAPIKeyAuthentication(authentication.BaseAuthentication):
    """`project_id`: the project a project-scoped view serves (`api/viewsets.py` passes it). The key's
    query then also finds that project, with the user's membership, as this authenticator's
    `requested_project` (None when there is no such project; `request.successful_authenticator` is
    this instance), so that an authenticated read costs two statements."""

    keyword = "Bearer"

    def __init__(self, project_id: int | None = None):
        self.project_id = project_id
        self.requested_project = None

    def authenticate(self, request):
        found = self._find_raw_key(request)
        if found is None:
            return None
        raw_key, source = found
        invalid = exceptions.AuthenticationFailed(f"Personal API key found in request {source} is invalid.")
        if not raw_key or len(raw_key) > keys.MAX_KEY_LENGTH:
            raise invalid

        api_key, self.requested_project = _find_key(keys.digest(raw_key), self.project_id)
        if api_key is None or api_key.is_revoked or not api_key.user.is_active:
            raise invalid
        if api_key.is_expired:
            raise exceptions.AuthenticationFailed(f"Personal API key found in request {source} has expired.")

        self._touch_last_used(api_key)
        return api_key.user, api_key

    def authenticate_header(self, request):
        return self.keyword

    def _find_raw_key(self, request) -> tuple[str, str] | None:
        header = request.META.get("HTTP_AUTHORIZATION")
        if header is not None:
            scheme, _, rest = header.strip().partition(" ")
            if scheme.lower() == self.keyword.lower():
                return rest.strip(), "Authorization header"
            # Another scheme (Basic, Token, ...) is not ours to judge: the request is unauthenticated.
            return None
        if settings.PERSONAL_API_KEY_IN_REQUEST_ALLOWED:
            if "personal_api_key" in request.query_params:
                return request.query_params["personal_api_key"].strip(), "query string"
            data = request.data
            if hasattr(data, "get") and isinstance(data.get("personal_api_key"), str):
                return data["personal_api_key"].strip(), "body"
        return None

    @staticmethod
    def _touch_last_used(api_key: PersonalAPIKey) -> None:
        """Writes `last_used_at` at most once an hour, and only that column.

        The condition sits in the UPDATE itself, so concurrent requests write it once between them.
        It is the same as the check before it (an hour or more since the last write): at exactly an
        hour the key is written, not only its copy in memory.
        """
        now = timezone.now()
        if api_key.last_used_at is not None and now - api_key.last_used_at < LAST_USED_RESOLUTION:
            return
        PersonalAPIKey.objects.filter(
            Q(last_used_at__isnull=True) | Q(last_used_at__lte=now - LAST_USED_RESOLUTION), pk=api_key.pk
        ).update(last_used_at=now)
        api_key.last_used_at = now
