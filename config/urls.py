from django.contrib import admin
from django.http import HttpResponseRedirect
from django.templatetags.static import static
from django.urls import include, path
from drf_spectacular.views import SpectacularRedocView, SpectacularSwaggerView

from api import health
from api.schema_view import SchemaView

# The admin's "View site" link: this service has no site but its API, so the API's docs page.
admin.site.site_url = "/api/schema/swagger-ui/"


def favicon(request):
    # Browsers ask every site for /favicon.ico when a page names no icon (the admin's pages do not).
    return HttpResponseRedirect(static("api/favicon.svg"))


urlpatterns = [
    path("favicon.ico", favicon),
    path("healthz", health.healthz),
    path("readyz", health.readyz),
    path("admin/", admin.site.urls),
    # The OpenAPI description (YAML; JSON with ?format=json; built once per process) and its pages.
    path("api/schema/", SchemaView.as_view(), name="schema"),
    path("api/schema/swagger-ui/", SpectacularSwaggerView.as_view(url_name="schema"), name="swagger-ui"),
    path(
        "api/schema/redoc/",
        SpectacularRedocView.as_view(url_name="schema", template_name="api/redoc.html"),
        name="redoc",
    ),
    path("", include("signalsource.urls")),
    path("", include("activity_log.urls")),
]

handler400 = "api.exceptions.bad_request"
handler403 = "api.exceptions.permission_denied"
handler404 = "api.exceptions.page_not_found"
handler500 = "api.exceptions.server_error"
