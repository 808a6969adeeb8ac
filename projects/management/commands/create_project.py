from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.core.validators import validate_email

from projects.models import Organization, Project
from projects.services import DEFAULT_ORGANIZATION, create_project


def _max_length(model, field: str) -> int:
    return model._meta.get_field(field).max_length


class Command(BaseCommand):
    help = "Creates a project (and its organization and member user if needed); prints the project's id."

    def add_arguments(self, parser):
        parser.add_argument("name")
        parser.add_argument("--member", required=True, metavar="EMAIL", help="user made a member of the organization")
        parser.add_argument("--organization", default=DEFAULT_ORGANIZATION, metavar="NAME")

    def handle(self, *args, name, member, organization, **options):
        name, organization = name.strip(), organization.strip()
        try:
            validate_email(member)
        except ValidationError:
            raise CommandError(f"Not an email address: {member!r}") from None
        if not name or not organization:
            raise CommandError("The project and organization names must not be blank.")
        # Checked here so that PostgreSQL, which enforces these lengths, never answers with a traceback.
        # The email becomes the new user's username.
        limits = [
            ("project name", name, _max_length(Project, "name")),
            ("organization name", organization, _max_length(Organization, "name")),
            ("email address", member, _max_length(get_user_model(), "username")),
        ]
        for label, value, limit in limits:
            if len(value) > limit:
                raise CommandError(f"The {label} must be at most {limit} characters.")
        project = create_project(name, member, organization)
        self.stdout.write(str(project.id))
