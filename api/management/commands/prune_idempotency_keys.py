from django.core.management.base import BaseCommand
from django.utils import timezone

from api.idempotency import TTL
from api.models import IdempotencyRecord


class Command(BaseCommand):
    help = "Deletes Idempotency-Key records older than 24 hours (run it from cron, e.g. hourly)."

    def handle(self, *args, **options):
        deleted, _ = IdempotencyRecord.objects.filter(created_at__lt=timezone.now() - TTL).delete()
        self.stdout.write(f"Deleted {deleted} expired idempotency record(s).")
