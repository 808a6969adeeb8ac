from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand

from auth_keys.services import create_api_key
from projects.services import create_project

DEMO_EMAIL = "demo@example.com"


class Command(BaseCommand):
    help = "On a database with no users, creates a demo organization, project, user and API key."

    def add_arguments(self, parser):
        parser.add_argument("--base-url", default="http://127.0.0.1:8000")

    def handle(self, *args, base_url, **options):
        if get_user_model().objects.exists():
            self.stdout.write(
                "The database already has users; no demo data created. To get an API key (shown once):\n\n"
                "  .venv/bin/python manage.py create_api_key <email> "
                "--scopes task:read,task:write,activity_log:read\n\n"
                "(a new user and project: .venv/bin/python manage.py create_project 'My project' --member <email>)"
            )
            return
        project = create_project("Demo project", DEMO_EMAIL, "Demo organization")
        user = get_user_model().objects.get(email=DEMO_EMAIL)
        _, raw_key = create_api_key(user, scopes=["task:read", "task:write", "activity_log:read"], label="demo")
        url = f"{base_url}/api/projects/{project.id}/signal_source_configs/"
        self.stdout.write(
            "\nDemo data created. This API key is shown once, now:\n\n"
            f"  {raw_key}\n\n"
            "Try it:\n\n"
            f"  curl -H 'Authorization: Bearer {raw_key}' {url}\n"
        )
