from datetime import timedelta

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from projects.models import Organization, Project

from . import keys
from .models import PersonalAPIKey
from .scopes import validate_scopes


def _error(field: str, message: str, code: str) -> ValidationError:
    return ValidationError({field: ValidationError(message, code=code)})


def create_api_key(
    user,
    *,
    scopes: list[str],
    label: str = "",
    scoped_projects: list[int] | None = None,
    scoped_organizations: list[int] | None = None,
    expires_in_days: int | None = None,
) -> tuple[PersonalAPIKey, str]:
    """Creates a key and returns it with its raw value, which is never stored and never shown again.

    Raises a ValidationError, keyed by the argument at fault and with a message fit for a person, when
    a scope, project or organization is unknown or the expiry is out of range.
    """
    scopes = validate_scopes(scopes)
    scoped_projects = sorted(set(scoped_projects or []))
    scoped_organizations = sorted(set(scoped_organizations or []))
    missing = set(scoped_projects) - set(Project.objects.filter(id__in=scoped_projects).values_list("id", flat=True))
    if missing:
        raise _error("scoped_projects", f"Unknown project id(s): {', '.join(map(str, sorted(missing)))}.", "invalid")
    missing = set(scoped_organizations) - set(
        Organization.objects.filter(id__in=scoped_organizations).values_list("id", flat=True)
    )
    if missing:
        message = f"Unknown organization id(s): {', '.join(map(str, sorted(missing)))}."
        raise _error("scoped_organizations", message, "invalid")
    expires_at = None
    if expires_in_days is not None:
        if expires_in_days <= 0:
            raise _error("expires_in_days", "The expiry must be a positive number of days.", "min_value")
        try:
            expires_at = timezone.now() + timedelta(days=expires_in_days)
        except OverflowError:  # beyond the year 9999
            raise _error("expires_in_days", "The expiry is too far in the future.", "max_value") from None

    raw_key = keys.generate_raw_key()
    api_key = PersonalAPIKey.objects.create(
        user=user,
        label=label,
        digest=keys.digest(raw_key),
        mask=keys.mask(raw_key),
        scopes=scopes,
        scoped_projects=scoped_projects,
        scoped_organizations=scoped_organizations,
        expires_at=expires_at,
    )
    return api_key, raw_key


@transaction.atomic
def revoke_api_key(api_key: PersonalAPIKey) -> None:
    if api_key.revoked_at is None:
        api_key.revoked_at = timezone.now()
        api_key.save(update_fields=["revoked_at"])
