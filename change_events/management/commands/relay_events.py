import logging
import signal
import time

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from change_events.relay import RelayLock, configured_relay, lag_seconds

logger = logging.getLogger("change_events.relay")

LAG_LOG_SECONDS = 60.0


class Command(BaseCommand):
    help = (
        "Publishes the change events to NATS JetStream (EVENTS_NATS_URL, stream EVENTS_NATS_STREAM, subjects "
        "<EVENTS_NATS_SUBJECT_PREFIX>.<project id>.<config id>), in order per config, each once, marking them "
        "sent after the broker's ack. One relay per deployment publishes; a second waits for its lock. "
        "SIGTERM/SIGINT finish the batch in flight and stop. Guarantees: change_events/relay.py."
    )

    def add_arguments(self, parser):
        parser.add_argument("--once", action="store_true", help="Publish every unsent event, then exit.")
        parser.add_argument("--batch-size", type=int, default=500, help="Events per batch (default 500).")
        parser.add_argument(
            "--poll-interval", type=float, default=0.5, help="Seconds between looks when nothing is unsent."
        )
        parser.add_argument("--url", default="", help="NATS URL (default EVENTS_NATS_URL).")
        parser.add_argument("--stream", default="", help="Stream name (default EVENTS_NATS_STREAM).")
        parser.add_argument("--subject-prefix", default="", help="Subject prefix (default EVENTS_NATS_SUBJECT_PREFIX).")

    def handle(self, *args, once, batch_size, poll_interval, url, stream, subject_prefix, **options):
        if not (url or settings.EVENTS_NATS_URL):
            raise CommandError("Set EVENTS_NATS_URL (or --url) to the NATS server, e.g. nats://127.0.0.1:4222.")
        if batch_size < 1 or poll_interval <= 0:
            raise CommandError("--batch-size must be a positive integer and --poll-interval positive.")
        relay = configured_relay(url=url, stream=stream, prefix=subject_prefix, batch_size=batch_size)
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: relay.stop.set())

        lock = RelayLock()
        waiting_logged = False
        while not lock.try_acquire():
            if not waiting_logged:
                logger.info("another relay holds the relay lock; waiting")
                waiting_logged = True
            if relay.stop.wait(1.0):
                relay.close()
                return
        try:
            relay.connect()
            logger.info("relay publishing to %s stream %s", relay.url, relay.stream)
            total = 0
            next_lag_log = time.monotonic()
            while not relay.stop.is_set():
                if time.monotonic() >= next_lag_log:
                    lag = lag_seconds()
                    logger.info("relay lag: %s", "none" if lag is None else f"{lag:.1f}s (oldest unsent event's age)")
                    next_lag_log = time.monotonic() + LAG_LOG_SECONDS
                sent = relay.relay_batch()
                total += sent
                if sent == 0:
                    if once:
                        break
                    relay.stop.wait(poll_interval)
            self.stdout.write(f"Relayed {total} event(s).")
        finally:
            relay.close()
            lock.release()
