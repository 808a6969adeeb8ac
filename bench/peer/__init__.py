"""The peer: the service's API as a team would write it in a hurry with plain Django REST framework.

A `ModelViewSet` with a `ModelSerializer`, a `TokenAuthentication`-style key lookup through the ORM,
DRF's own `UserRateThrottle` (burst and sustained, at the service's rates), DRF's
`LimitOffsetPagination` and django-filter's backend, on the service's tables (unmanaged models) and
database. Same routes, payloads and success answers as the service on the benchmark's scenarios, so
its wrk scripts run unchanged; none of the service's own code is imported except the catalog (its
data, which any implementation needs), and its error bodies are DRF's defaults.

Only the benchmark serves it (bench/run.py: `python manage.py serve --app bench.peer.wsgi:application`).
"""
