from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView
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
    # The OpenAPI description (YAML; JSON with ?format=json) and its pages, all served from here.
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/schema/swagger-ui/", SpectacularSwaggerView.as_view(url_name="schema"), name="swagger-ui"),
    path(
        "api/schema/redoc/",
        SpectacularRedocView.as_view(url_name="schema", template_name="signalsource/redoc.html"),
        name="redoc",
    ),
    path("", include(router.urls)),
]

handler400 = "signalsource.exceptions.bad_request"
handler403 = "signalsource.exceptions.permission_denied"
handler404 = "signalsource.exceptions.page_not_found"
handler500 = "signalsource.exceptions.server_error"
