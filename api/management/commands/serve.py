"""`python manage.py serve`: the one command that starts the production server (api/server.py).

It lives in `api`, the HTTP layer every other app sits on: Django finds commands only in installed
apps, and `config/` is not one.
"""

import os
import shutil
import sys

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from api.server import granian_argv


class Command(BaseCommand):
    help = "Serve the API with granian; reads HOST, PORT and WEB_CONCURRENCY (see README, Deployment)."

    def add_arguments(self, parser):
        parser.add_argument(
            "--app",
            help="WSGI application as module:attribute (default: WSGI_APPLICATION; the benchmark serves its floor)",
        )

    def handle(self, *args, app, **options):
        argv = granian_argv(app)
        # The granian beside this interpreter: the one this project's lock installed.
        executable = os.path.join(os.path.dirname(sys.executable), "granian")
        if not os.access(executable, os.X_OK):
            executable = shutil.which("granian")
        if not executable:
            raise CommandError("granian is not installed: run `make .venv/.installed`.")
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", settings.SETTINGS_MODULE)
        sys.stdout.flush()
        sys.stderr.flush()
        # Replace this process: signals from a supervisor (SIGTERM on deploy) reach granian itself.
        os.execv(executable, [executable, *argv[1:]])  # noqa: S606 -- a fixed argv, no shell
