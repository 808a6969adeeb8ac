from django.contrib import admin
from django.urls import include, path
from rest_framework.routers import SimpleRouter

from . import health
from .views import SignalSourceConfigViewSet

# Trailing slash optional on every route, as PostHog's API accepts both.
router = SimpleRouter()
router.trailing_slash = "/?"
router.register(
    r"api/projects/(?P<project_id>[^/]+)/signal_source_configs",
    SignalSourceConfigViewSet,
    basename="signal_source_configs",
)

urlpatterns = [
    path("healthz", health.healthz),
    path("readyz", health.readyz),
    path("admin/", admin.site.urls),
    path("", include(router.urls)),
]

handler400 = "signalsource.exceptions.bad_request"
handler403 = "signalsource.exceptions.permission_denied"
handler404 = "signalsource.exceptions.page_not_found"
handler500 = "signalsource.exceptions.server_error"
