import os

from django.core.wsgi import get_wsgi_application

# Served by the service's own `python manage.py serve --app bench.peer.wsgi:application` (the same
# server and settings), which names the service's settings module: the peer is a project of its own.
os.environ["DJANGO_SETTINGS_MODULE"] = "bench.peer.settings"

application = get_wsgi_application()
