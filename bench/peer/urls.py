from django.http import JsonResponse
from django.urls import path
from rest_framework.routers import SimpleRouter

from .views import SignalSourceConfigViewSet

router = SimpleRouter()
router.register(r"api/projects/(?P<project_id>\d+)/signal_source_configs", SignalSourceConfigViewSet, basename="peer")

# The benchmark waits for /healthz before it loads a server.
urlpatterns = [path("healthz", lambda request: JsonResponse({"status": "ok"})), *router.urls]
