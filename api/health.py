from functools import wraps

from django.db import DatabaseError, connection
from django.http import JsonResponse
from django.views.decorators.csrf import csrf_exempt

from .exceptions import error_body
from .server import draining
from .throttling import ping_redis

PROBE_METHODS = ("GET", "HEAD")


def probe(view):
    """GET and HEAD only (load balancers use both); anything else is a JSON 405 with `Allow`.

    CSRF-exempt: a probe changes nothing, and a POST must get the 405, not Django's HTML CSRF page.
    """

    @csrf_exempt
    @wraps(view)
    def wrapper(request):
        if request.method not in PROBE_METHODS:
            body = error_body("invalid_request", "method_not_allowed", f'Method "{request.method}" not allowed.')
            return JsonResponse(body, status=405, headers={"Allow": ", ".join(PROBE_METHODS)})
        return view(request)

    wrapper.reads_body_itself = True  # never: the body is not read (RequestBodyLimitMiddleware)
    return wrapper


@probe
def healthz(request):
    """The process is up. Touches nothing else."""
    redis = ping_redis()
    if redis is None:
        return JsonResponse({"status": "ok"})
    return JsonResponse({"status": "ok", "rate_limit_cache": "ok" if redis else "unavailable"})


@probe
def readyz(request):
    """The process can serve: its database answers. A Redis that does not answer is reported but
    keeps the instance in service: rate limits are then not counted (api/throttling.py). A stopping
    instance (SIGTERM to `manage.py serve`) is not ready, whatever else."""
    if draining():
        # Still serving for DRAIN_SECONDS, but a balancer should stop sending new requests here.
        return JsonResponse(
            {"status": "draining", "detail": "The instance is stopping."},
            status=503,
            headers={"Retry-After": "5"},
        )
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except DatabaseError:
        return JsonResponse(
            {"status": "unavailable", "detail": "The database does not answer."},
            status=503,
            headers={"Retry-After": "5"},
        )
    redis = ping_redis()
    if redis is None:
        return JsonResponse({"status": "ok"})
    return JsonResponse({"status": "ok", "rate_limit_cache": "ok" if redis else "unavailable"})
