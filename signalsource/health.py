from django.db import DatabaseError, connection
from django.http import JsonResponse
from django.views.decorators.http import require_GET


@require_GET
def healthz(request):
    """The process is up. Touches nothing else."""
    return JsonResponse({"status": "ok"})


@require_GET
def readyz(request):
    """The process can serve: its database answers."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except DatabaseError:
        return JsonResponse(
            {"status": "unavailable", "detail": "The database does not answer."},
            status=503,
            headers={"Retry-After": "5"},
        )
    return JsonResponse({"status": "ok"})
