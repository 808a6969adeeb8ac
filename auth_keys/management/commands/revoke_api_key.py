from django.core.management.base import BaseCommand, CommandError

from auth_keys.models import PersonalAPIKey
from auth_keys.services import revoke_api_key


class Command(BaseCommand):
    help = "Revokes a personal API key, named by its mask (phx_...a1b2) or its id."

    def add_arguments(self, parser):
        parser.add_argument("mask_or_id")

    def handle(self, *args, mask_or_id, **options):
        if mask_or_id.isdigit():
            matches = list(PersonalAPIKey.objects.filter(pk=int(mask_or_id)))
        else:
            matches = list(PersonalAPIKey.objects.filter(mask=mask_or_id))
        if not matches:
            raise CommandError(f"No API key matches {mask_or_id!r}.")
        if len(matches) > 1:
            raise CommandError(f"{len(matches)} keys share the mask {mask_or_id!r}; revoke by id instead.")
        revoke_api_key(matches[0])
        self.stdout.write(f"Revoked {matches[0].mask} (id {matches[0].pk}).")
