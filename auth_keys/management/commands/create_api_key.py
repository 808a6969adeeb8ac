from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from auth_keys.services import create_api_key
from projects.models import Organization


class Command(BaseCommand):
    help = "Creates a personal API key and prints the raw key. It is shown this once and never again."

    def add_arguments(self, parser):
        parser.add_argument("email")
        parser.add_argument("--scopes", required=True, help="comma separated: task:read,task:write or *")
        parser.add_argument(
            "--project",
            type=int,
            action="append",
            default=[],
            metavar="ID",
            help="limit the key to this project (repeatable)",
        )
        parser.add_argument(
            "--organization",
            action="append",
            default=[],
            metavar="NAME",
            help="limit the key to this organization (repeatable)",
        )
        parser.add_argument("--label", default="")
        parser.add_argument("--expires-in-days", type=int, default=None, metavar="N")

    def handle(self, *args, email, scopes, project, organization, label, expires_in_days, **options):
        user = get_user_model().objects.filter(email__iexact=email).first()
        if user is None:
            raise CommandError(f"No user with email {email!r}.")
        organization_ids = []
        for name in organization:
            org = Organization.objects.filter(name=name).first()
            if org is None:
                raise CommandError(f"No organization named {name!r}.")
            organization_ids.append(org.id)
        try:
            _, raw_key = create_api_key(
                user,
                scopes=[s.strip() for s in scopes.split(",") if s.strip()],
                label=label,
                scoped_projects=project,
                scoped_organizations=organization_ids,
                expires_in_days=expires_in_days,
            )
        except ValidationError as error:
            raise CommandError(" ".join(error.messages)) from None
        self.stdout.write(raw_key)
