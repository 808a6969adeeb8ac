from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.core.validators import validate_email

from projects.services import DEFAULT_ORGANIZATION, create_project


class Command(BaseCommand):
    help = "Creates a project (and its organization and member user if needed); prints the project's id."

    def add_arguments(self, parser):
        parser.add_argument("name")
        parser.add_argument("--member", required=True, metavar="EMAIL", help="user made a member of the organization")
        parser.add_argument("--organization", default=DEFAULT_ORGANIZATION, metavar="NAME")

    def handle(self, *args, name, member, organization, **options):
        try:
            validate_email(member)
        except ValidationError:
            raise CommandError(f"Not an email address: {member!r}") from None
        if not name.strip() or not organization.strip():
            raise CommandError("The project and organization names must not be blank.")
        project = create_project(name.strip(), member, organization.strip())
        self.stdout.write(str(project.id))
