from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from signalsource.runs import prunable_runs, prune_runs


class Command(BaseCommand):
    help = (
        "Deletes processing runs that started more than RUNS_RETENTION_DAYS ago, in batches; the latest "
        "run of each config is always kept."
    )

    def add_arguments(self, parser):
        parser.add_argument("--dry-run", action="store_true", help="Only count what would be deleted.")
        parser.add_argument("--batch-size", type=int, default=1000, help="Runs per DELETE (default 1000).")

    def handle(self, *args, dry_run, batch_size, **options):
        if batch_size < 1:
            raise CommandError("--batch-size must be a positive integer.")
        total = prunable_runs().count()
        kept = f"older than {settings.RUNS_RETENTION_DAYS} day(s), the latest of each config kept"
        if dry_run:
            self.stdout.write(f"Dry run: {total} run(s) {kept} would be deleted.")
            return
        self.stdout.write(f"Deleting {total} run(s) {kept}.")
        done = 0
        for deleted in prune_runs(batch_size=batch_size):
            done += deleted
            self.stdout.write(f"  {done}/{total} deleted")
        self.stdout.write(self.style.SUCCESS(f"Deleted {done} run(s)."))
