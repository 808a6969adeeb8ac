import datetime

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from activity_log.models import ActivityLog
from activity_log.services import prune_batches


def _date(value: str) -> datetime.date:
    try:
        return datetime.date.fromisoformat(value)
    except ValueError:
        raise CommandError(f"--before must be a date as YYYY-MM-DD, not {value!r}.") from None


class Command(BaseCommand):
    help = (
        "Deletes activity log records created before a date (midnight UTC starting that day), in batches. "
        "Nothing else deletes them."
    )

    def add_arguments(self, parser):
        parser.add_argument("--before", required=True, help="YYYY-MM-DD: records created before this day go.")
        parser.add_argument("--dry-run", action="store_true", help="Only count what would be deleted.")
        parser.add_argument("--batch-size", type=int, default=5000, help="Records per DELETE (default 5000).")

    def handle(self, *args, before, dry_run, batch_size, **options):
        if batch_size < 1:
            raise CommandError("--batch-size must be a positive integer.")
        cutoff = datetime.datetime.combine(_date(before), datetime.time.min, tzinfo=datetime.UTC)
        if cutoff > timezone.now():
            raise CommandError(f"--before {before} is in the future; that would delete today's records.")
        total = ActivityLog.objects.filter(created_at__lt=cutoff).count()
        if dry_run:
            self.stdout.write(f"Dry run: {total} record(s) created before {cutoff.isoformat()} would be deleted.")
            return
        self.stdout.write(f"Deleting {total} record(s) created before {cutoff.isoformat()}.")
        done = 0
        for deleted in prune_batches(cutoff, batch_size):
            done += deleted
            self.stdout.write(f"  {done}/{total} deleted")
        self.stdout.write(self.style.SUCCESS(f"Deleted {done} record(s)."))
