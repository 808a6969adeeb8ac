import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

application = get_wsgi_application()

# Django imports the URLconf (and through it every view, serializer and schema class) on the first
# request; each server worker imports this module at start, so it pays for it there, not on a
# client's request (0.6-2 s). Nothing here opens a database or Redis connection.
from django.urls import get_resolver  # noqa: E402

get_resolver().url_patterns  # noqa: B018
