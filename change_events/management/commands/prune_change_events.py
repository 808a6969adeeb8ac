import datetime

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from change_events.services import prunable, prune_batches, relay_configured


class Command(BaseCommand):
    help = (
        "Deletes change events older than EVENTS_RETENTION_DAYS (or --days), in batches, and moves the feed's "
        "horizon past them (an older cursor then answers 410). While a relay is configured (EVENTS_NATS_URL), "
        "events it has not sent are kept."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--days", type=int, default=None, help="Keep this many days (default EVENTS_RETENTION_DAYS)."
        )
        parser.add_argument("--dry-run", action="store_true", help="Only count what would be deleted.")
        parser.add_argument("--batch-size", type=int, default=5000, help="Events per DELETE (default 5000).")

    def handle(self, *args, days, dry_run, batch_size, **options):
        days = settings.EVENTS_RETENTION_DAYS if days is None else days
        if days < 0 or batch_size < 1:
            raise CommandError("--days must be 0 or more and --batch-size a positive integer.")
        cutoff = timezone.now() - datetime.timedelta(days=days)
        keep_unsent = relay_configured()
        total = prunable(cutoff, keep_unsent=keep_unsent).count()
        if dry_run:
            self.stdout.write(f"Dry run: {total} event(s) older than {cutoff.isoformat()} would be deleted.")
            return
        self.stdout.write(f"Deleting {total} event(s) older than {cutoff.isoformat()}.")
        done = 0
        for deleted in prune_batches(cutoff, batch_size, keep_unsent=keep_unsent):
            done += deleted
            self.stdout.write(f"  {done}/{total} deleted")
        self.stdout.write(self.style.SUCCESS(f"Deleted {done} event(s)."))
