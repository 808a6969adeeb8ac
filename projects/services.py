from django.contrib.auth import get_user_model
from django.db import transaction

from .models import Organization, OrganizationMembership, Project

DEFAULT_ORGANIZATION = "Default"


def get_or_create_user(email: str):
    User = get_user_model()
    user = User.objects.filter(email__iexact=email).first()
    if user is None:
        user = User.objects.create_user(username=email, email=email)
        user.set_unusable_password()
        user.save(update_fields=["password"])
    return user


@transaction.atomic
def create_project(name: str, member_email: str, organization_name: str = DEFAULT_ORGANIZATION) -> Project:
    """Creates the project, and its organization and member user when they do not exist yet."""
    organization, _ = Organization.objects.get_or_create(name=organization_name)
    user = get_or_create_user(member_email)
    OrganizationMembership.objects.get_or_create(organization=organization, user=user)
    return Project.objects.create(name=name, organization=organization)
